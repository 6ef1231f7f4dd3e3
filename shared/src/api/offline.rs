//! Forced offline and logout: for every targeted user, revoke every token (first, so no client
//! can sign in again meanwhile), end every online session with `FORCED`, then tell and close every
//! live connection. Each step acts only on what is still to do, so a repeat changes nothing.
//!
//! A connection the gateway fails to close (other than one already gone) is logged and not
//! counted; its session is already ended and its token revoked, and its next heartbeat closes it.
//!
//! The work has a time budget ([`Budget::for_offline`], inside API Gateway's 30 s): a target too
//! large for it stops starting new batches, and the answer is a 202 whose `data` counts what was
//! done and whose `msg` says to repeat the call, which, being idempotent, finishes the rest.
//! Sessions whose tokens were already revoked end at their next heartbeat or cleanup meanwhile.

use std::collections::BTreeSet;

use lambda_http::Request;
use serde::Serialize;

use super::{to_data, App, Done, Outcome};
use crate::auth::{authenticate, Permission, TenantScope};
use crate::budget::Budget;
use crate::domain::{OfflineReason, TenantId, Timestamp, UserId};
use crate::error::ApiError;
use crate::gateway::{close_all, Notice};
use crate::offline::{parse_offline_request, OfflineRequest, ReceiveObjectType};
use crate::query::tenant_id_parameter;
use crate::store::TenantOffline;

/// `data` of a forced offline.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OfflineData {
    pub users: usize,
    pub sessions: usize,
    pub tokens: u64,
    pub connections: usize,
    /// `USER` ids outside the caller's scope (or unknown), as strings.
    pub skipped_ids: Vec<String>,
}

pub async fn force_offline(app: &App, req: &Request) -> Outcome {
    let caller = authenticate(app.store.as_ref(), req.headers(), Permission::Offline).await?;
    let request = parse_offline_request(req.body().as_ref())?;
    let scope = caller.scope(tenant_id_parameter(req.uri().query().unwrap_or_default())?)?;
    let target = target(app, scope, &request).await?;

    let now = Timestamp::now();
    let budget = Budget::for_offline();
    let done = budget.run(force(app, scope, target, now)).await?;
    let skipped_ids = match request.object_type {
        ReceiveObjectType::User => {
            let found: BTreeSet<i64> = done.users.iter().map(|u| u.user_id.get()).collect();
            request
                .ids
                .iter()
                .filter(|id| !found.contains(id))
                .map(ToString::to_string)
                .collect()
        }
        ReceiveObjectType::Tenant => Vec::new(),
    };
    let notice = Notice::forced_offline(now);
    let connections = close_all(
        app.gateway.as_ref(),
        &done.ended,
        request.broadcast.then_some(notice.as_str()),
    )
    .await;

    let data = to_data(OfflineData {
        users: done.users.len(),
        sessions: done.ended.len(),
        tokens: done.tokens,
        connections,
        skipped_ids,
    })?;
    Ok(Done {
        unfinished: budget.was_cut().then(|| {
            "Not finished within the time limit: data counts what was done. Repeat the same call \
             (it is idempotent) to finish, with another token if yours was among those revoked; \
             sessions whose tokens are already revoked end at their next heartbeat or cleanup \
             meanwhile."
                .to_owned()
        }),
        ..Done::from(data)
    })
}

/// Revokes the targets' tokens and ends their online sessions, in the caller's scope.
async fn force(app: &App, scope: TenantScope, target: Target, now: Timestamp) -> Result<TenantOffline, ApiError> {
    let reason = OfflineReason::Forced;
    Ok(match target {
        Target::Users(ids) => {
            let users = app.store.find_users(scope, &ids).await?;
            TenantOffline {
                tokens: app.store.revoke_user_tokens(&users, now).await?,
                ended: app.store.end_user_sessions(&users, now, reason).await?,
                users,
            }
        }
        Target::UsersOfTenant(tenant, ids) => {
            let mut done = app.store.force_tenant_offline(tenant, Some(&ids), now, reason).await?;
            // Ids with neither a token nor an online session there: users with only ended
            // sessions (reached, nothing to do), or unknown (skipped).
            let reached: BTreeSet<UserId> = done.users.iter().map(|u| u.user_id).collect();
            let rest: Vec<UserId> = ids.into_iter().filter(|id| !reached.contains(id)).collect();
            done.users.extend(app.store.find_users(scope, &rest).await?);
            done
        }
        // A whole tenant: one read of its tokens and one of its online sessions, not one per user.
        Target::Tenants(tenants) => {
            let mut all = TenantOffline::default();
            for tenant in tenants {
                let done = app.store.force_tenant_offline(tenant, None, now, reason).await?;
                all.users.extend(done.users);
                all.tokens += done.tokens;
                all.ended.extend(done.ended);
            }
            all
        }
    })
}

/// At one `USER` id or more per this many online sessions of the tenant, one read of the
/// tenant's tokens and online sessions costs less than looking the users up one by one (three or
/// four queries each, every one billed at least half a read unit; a tenant read bills half a unit
/// per ~4 KB, some 12 sessions or tokens).
const ONLINE_SESSIONS_PER_ID: usize = 20;

/// Whether `ids` users of a tenant with `online` online sessions are cheaper to reach by reading
/// the tenant once than one by one.
fn reads_tenant_once(ids: usize, online: u64) -> bool {
    ids.saturating_mul(ONLINE_SESSIONS_PER_ID) as u64 >= online
}

/// Whom a request forces offline, in the caller's scope.
enum Target {
    /// `USER` ids, looked up one by one.
    Users(Vec<UserId>),
    /// `USER` ids of one tenant, enough of them that the tenant is read once.
    UsersOfTenant(TenantId, BTreeSet<UserId>),
    /// `TENANT`: the tenants, each once.
    Tenants(Vec<TenantId>),
}

async fn target(app: &App, scope: TenantScope, request: &OfflineRequest) -> Result<Target, ApiError> {
    match request.object_type {
        ReceiveObjectType::User => {
            let ids: Vec<UserId> = request.ids.iter().copied().map(UserId).collect();
            if let TenantScope::Tenant(tenant) = scope {
                let online = app.store.session_counts(scope).await?.online;
                if reads_tenant_once(ids.len(), online) {
                    return Ok(Target::UsersOfTenant(tenant, ids.into_iter().collect()));
                }
            }
            Ok(Target::Users(ids))
        }
        ReceiveObjectType::Tenant => {
            let tenants: Vec<TenantId> = request
                .ids
                .iter()
                .copied()
                .collect::<BTreeSet<i64>>()
                .into_iter()
                .map(TenantId)
                .collect();
            if let Some(other) = tenants.iter().find(|t| !scope.contains(**t)) {
                return Err(ApiError::forbidden_field(
                    "receiveObjectIds",
                    format!("You may only force your own tenant offline; tenant {other} is not yours."),
                ));
            }
            Ok(Target::Tenants(tenants))
        }
    }
}
