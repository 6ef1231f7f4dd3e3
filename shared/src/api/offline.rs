//! Forced offline and logout: for every targeted user, revoke every token (first, so no client
//! can sign in again meanwhile), end every online session with `FORCED`, then tell and close every
//! live connection. Each step acts only on what is still to do, so a repeat changes nothing.
//!
//! A connection the gateway fails to close (other than one already gone) is logged and not
//! counted; its session is already ended and its token revoked, and its next heartbeat closes it.

use std::collections::BTreeSet;

use lambda_http::Request;
use serde::Serialize;

use super::{to_data, App, Done, Outcome};
use crate::auth::{authenticate, Caller, Permission};
use crate::domain::{OfflineReason, TenantId, Timestamp, UserId};
use crate::error::ApiError;
use crate::gateway::{close_all, Notice};
use crate::offline::{parse_offline_request, OfflineRequest, ReceiveObjectType};
use crate::store::UserRef;

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
    let target = target(app, &caller, &request).await?;

    let now = Timestamp::now();
    let (users, tokens, ended, skipped) = match target {
        Target::Users { users, skipped } => (
            users.len(),
            app.store.revoke_user_tokens(&users, now).await?,
            app.store.end_user_sessions(&users, now, OfflineReason::Forced).await?,
            skipped,
        ),
        // A whole tenant: one read of its tokens and one of its online sessions, not one per user.
        Target::Tenants(tenants) => {
            let (mut users, mut tokens, mut ended) = (0, 0, Vec::new());
            for tenant in tenants {
                let done = app
                    .store
                    .force_tenant_offline(tenant, now, OfflineReason::Forced)
                    .await?;
                users += done.users.len();
                tokens += done.tokens;
                ended.extend(done.ended);
            }
            (users, tokens, ended, Vec::new())
        }
    };
    let notice = Notice::forced_offline(now);
    let connections = close_all(
        app.gateway.as_ref(),
        &ended,
        request.broadcast.then_some(notice.as_str()),
    )
    .await;

    to_data(OfflineData {
        users,
        sessions: ended.len(),
        tokens,
        connections,
        skipped_ids: skipped.iter().map(ToString::to_string).collect(),
    })
    .map(Done::from)
}

/// Whom a request forces offline, in the caller's scope.
enum Target {
    /// `USER`: the users found, and the ids skipped (unknown, or another tenant's).
    Users { users: Vec<UserRef>, skipped: Vec<i64> },
    /// `TENANT`: the tenants, each once.
    Tenants(Vec<TenantId>),
}

async fn target(app: &App, caller: &Caller, request: &OfflineRequest) -> Result<Target, ApiError> {
    let scope = caller.scope(None)?;
    match request.object_type {
        ReceiveObjectType::User => {
            let ids: Vec<UserId> = request.ids.iter().copied().map(UserId).collect();
            let users = app.store.find_users(scope, &ids).await?;
            let found_ids: BTreeSet<i64> = users.iter().map(|u| u.user_id.get()).collect();
            let skipped = request
                .ids
                .iter()
                .copied()
                .filter(|id| !found_ids.contains(id))
                .collect();
            Ok(Target::Users { users, skipped })
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
