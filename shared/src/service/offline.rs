//! Forced offline and logout: for every targeted user, revoke every token (first, so no client
//! can sign in again meanwhile), end every online session with `FORCED`, then tell and close every
//! live connection. Each step acts only on what is still to do, so a repeat changes nothing. The
//! order is this module's rule, written once ([`tokens_then_sessions`]); the stores only store.
//!
//! A connection the gateway fails to close (other than one already gone) is logged and not
//! counted; its session is already ended and its token revoked, and its next heartbeat closes it.
//!
//! The work has a time budget ([`super::Config::offline_budget`], inside API Gateway's 30 s): a
//! target too large for it stops starting new batches, and the answer says so
//! ([`Offline::unfinished`]); the call, being idempotent, finishes the rest when repeated.
//! Sessions whose tokens were already revoked end at their next heartbeat or cleanup meanwhile.
//!
//! # The audit trail
//!
//! Every forced offline that passed its checks (authorised, valid, in scope: anything answered
//! 200 or 202) writes one [`AuditRecord`] after the work, in the same request: the operator, the
//! targets as given, the counts the answer carries, the request's id, address and user agent. A
//! call refused with a 4xx changed nothing and records nothing; one that failed on the way (a
//! 5xx) records nothing either, and its retry, which does the rest, records what it did.
//!
//! - **Once per request.** The record is keyed by the caller's tenant and the request id: the
//!   same request delivered twice (a Lambda retry of one API Gateway request) records once. A
//!   client's repeat is a new request, with a new id, and records again with what it did (after a
//!   202, the rest of the work).
//! - **When the record cannot be written** after the work succeeded, the answer is the store's
//!   error (503 with `Retry-After` when the store is throttled or failing; the log line of the
//!   call keeps the counts). An audit trail that silently misses a forced offline is worse than a
//!   retry: the work is idempotent, so the client's retry changes nothing more and records it.

use std::collections::BTreeSet;
use std::future::Future;

use serde::Serialize;

use super::App;
use crate::domain::access::{Caller, Permission, TenantScope};
use crate::domain::audit::{AuditId, AuditRecord, RequestOrigin, TargetType};
use crate::domain::budget::Budget;
use crate::domain::{ApiError, OfflineReason, Session, StoreError, TenantId, Timestamp, UserId};
use crate::gateway::{close_all, Notice};
use crate::store::{Store, UserRef};

/// Ids one request may target.
pub const MAX_TARGET_IDS: usize = 10_000;

/// What the ids of a request name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveObjectType {
    User,
    Tenant,
}

impl ReceiveObjectType {
    /// As the contract spells it.
    pub fn as_str(self) -> &'static str {
        self.target_type().as_str()
    }

    /// The audit trail's name for it.
    pub fn target_type(self) -> TargetType {
        match self {
            ReceiveObjectType::User => TargetType::User,
            ReceiveObjectType::Tenant => TargetType::Tenant,
        }
    }
}

/// A forced-offline request, as parsed from its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineRequest {
    /// Push a `FORCED_OFFLINE` notice before closing each connection.
    pub broadcast: bool,
    pub object_type: ReceiveObjectType,
    /// Distinct, positive, in the order first given; 1 to [`MAX_TARGET_IDS`].
    pub ids: Vec<i64>,
}

/// What a forced offline did (the answer's `data`).
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

/// A forced offline's outcome.
#[derive(Debug, PartialEq, Eq)]
pub struct Offline {
    pub data: OfflineData,
    /// The work stopped at its time budget: `data` counts what was done, and repeating the call
    /// does the rest.
    pub unfinished: bool,
}

/// What revoking and ending did for a set of users.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Forced {
    /// The users reached: those with a token or an online session in scope.
    pub users: Vec<UserRef>,
    /// Tokens this call revoked.
    pub tokens: u64,
    /// Sessions this call ended.
    pub ended: Vec<Session>,
}

/// Forces the users `request` names offline, in the caller's scope (narrowed to `tenant` when
/// the caller asked), at `now`, and records it in the audit trail as coming from `origin`.
pub async fn force_offline(
    app: &App,
    caller: &Caller,
    request: OfflineRequest,
    tenant: Option<TenantId>,
    origin: &RequestOrigin,
    now: Timestamp,
) -> Result<Offline, ApiError> {
    caller.require(Permission::Offline)?;
    let scope = caller.scope(tenant)?;
    let target = target(app, scope, &request).await?;
    let budget = Budget::new(app.config.offline_budget);
    let done = budget.run(force(app.store.as_ref(), scope, target, now)).await?;
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
    let outcome = Offline {
        data: OfflineData {
            users: done.users.len(),
            sessions: done.ended.len(),
            tokens: done.tokens,
            connections,
            skipped_ids,
        },
        unfinished: budget.was_cut(),
    };
    // Who did what, for the audit trail of the logs: ids and counts, never a token.
    tracing::info!(
        operatorUserId = caller.user_id.get(),
        operatorTenantId = caller.tenant_id.get(),
        platformOperator = caller.platform,
        scopeTenantId = tenant.map(TenantId::get),
        receiveObjectType = request.object_type.as_str(),
        ids = request.ids.len(),
        users = outcome.data.users,
        sessions = outcome.data.sessions,
        tokens = outcome.data.tokens,
        connections = outcome.data.connections,
        skipped = outcome.data.skipped_ids.len(),
        unfinished = outcome.unfinished,
        "forced offline"
    );
    record(app, caller, &request, &outcome, origin, now).await?;
    Ok(outcome)
}

/// Writes the audit record of a forced offline (once per tenant and request id).
async fn record(
    app: &App,
    caller: &Caller,
    request: &OfflineRequest,
    outcome: &Offline,
    origin: &RequestOrigin,
    now: Timestamp,
) -> Result<(), ApiError> {
    let record = AuditRecord {
        id: AuditId::new_at(now),
        tenant_id: caller.tenant_id,
        operator_user_id: caller.user_id,
        operator_full_name: caller.full_name.clone(),
        target_type: request.object_type.target_type(),
        target_ids: request.ids.clone(),
        broadcast: request.broadcast,
        users: outcome.data.users as u64,
        sessions: outcome.data.sessions as u64,
        tokens: outcome.data.tokens,
        connections: outcome.data.connections as u64,
        skipped_ids: outcome.data.skipped_ids.clone(),
        request_id: origin.request_id.clone(),
        remote_address: origin.remote_address.clone(),
        user_agent: origin.user_agent.clone(),
        datetime: now,
    };
    // DynamoDB's TTL deletes a day after the cleanup should have: a backstop, never first.
    let expires = now.plus_secs((app.config.audit_retention_days + 1).saturating_mul(86_400));
    match app.store.record_audit(&record, expires).await {
        Ok(written) => {
            if !written {
                tracing::info!(requestId = %origin.request_id, "forced offline already recorded for this request");
            }
            Ok(())
        }
        Err(error) => {
            tracing::error!(
                requestId = %origin.request_id,
                operatorUserId = caller.user_id.get(),
                %error,
                "forced offline done but its audit record was not written; answered as failed so that it is retried"
            );
            Err(error.into())
        }
    }
}

/// The rule of a forced offline, in one place: first `revoke` (so that no client signs in again
/// meanwhile), then read the `online` sessions and end them `FORCED`. Both steps are futures,
/// which do nothing until they are awaited here, in this order. A connect that lands between the
/// two is ended with the rest; one that lands after the revocation is refused by the store.
async fn tokens_then_sessions<R>(
    store: &dyn Store,
    revoke: impl Future<Output = Result<R, StoreError>>,
    online: impl Future<Output = Result<Vec<Session>, StoreError>>,
    now: Timestamp,
) -> Result<Revoked<R>, StoreError> {
    let revoked = revoke.await?;
    let online = online.await?;
    let ended = store.end_sessions(&online, now, OfflineReason::Forced).await?;
    Ok(Revoked { revoked, online, ended })
}

/// What [`tokens_then_sessions`] did.
struct Revoked<R> {
    /// What the revocation step answered.
    revoked: R,
    /// The online sessions read after it.
    online: Vec<Session>,
    /// Those of them this call ended (one ended meanwhile by another call is not among them).
    ended: Vec<Session>,
}

/// Forces these users offline: their tokens, then their online sessions, each looked up per user.
pub async fn force_users(store: &dyn Store, users: Vec<UserRef>, now: Timestamp) -> Result<Forced, StoreError> {
    let done = tokens_then_sessions(
        store,
        store.revoke_user_tokens(&users, now),
        store.online_sessions_of_users(&users),
        now,
    )
    .await?;
    Ok(Forced {
        users,
        tokens: done.revoked,
        ended: done.ended,
    })
}

/// Forces users of one tenant offline (those in `only_users`, or all of them), reading the
/// tenant's tokens once and its online sessions once, rather than once per user. The users
/// reached are those with a token or an online session there.
pub async fn force_tenant(
    store: &dyn Store,
    tenant: TenantId,
    only_users: Option<&BTreeSet<UserId>>,
    now: Timestamp,
) -> Result<Forced, StoreError> {
    let done = tokens_then_sessions(
        store,
        store.revoke_tenant_tokens(tenant, only_users, now),
        store.online_sessions_of_tenant(tenant, only_users),
        now,
    )
    .await?;
    let users: BTreeSet<UserRef> = done
        .revoked
        .users
        .iter()
        .copied()
        .chain(done.online.iter().map(|s| s.user_id))
        .map(|user_id| UserRef {
            user_id,
            tenant_id: tenant,
        })
        .collect();
    Ok(Forced {
        users: users.into_iter().collect(),
        tokens: done.revoked.revoked,
        ended: done.ended,
    })
}

/// Revokes the targets' tokens and ends their online sessions, in the caller's scope.
async fn force(store: &dyn Store, scope: TenantScope, target: Target, now: Timestamp) -> Result<Forced, ApiError> {
    Ok(match target {
        Target::Users(ids) => {
            let users = store.find_users(scope, &ids).await?;
            force_users(store, users, now).await?
        }
        Target::UsersOfTenant(tenant, ids) => {
            let mut done = force_tenant(store, tenant, Some(&ids), now).await?;
            // Ids with neither a token nor an online session there: users with only ended
            // sessions (reached, nothing to do), or unknown (skipped).
            let reached: BTreeSet<UserId> = done.users.iter().map(|u| u.user_id).collect();
            let rest: Vec<UserId> = ids.into_iter().filter(|id| !reached.contains(id)).collect();
            done.users.extend(store.find_users(scope, &rest).await?);
            done
        }
        // A whole tenant: one read of its tokens and one of its online sessions, not one per user.
        Target::Tenants(tenants) => {
            let mut all = Forced::default();
            for tenant in tenants {
                let done = force_tenant(store, tenant, None, now).await?;
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
