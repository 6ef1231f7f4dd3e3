//! Forced offline and logout: for every targeted user, revoke every token (first, so no client
//! can sign in again meanwhile), end every online session with `FORCED`, then tell and close every
//! live connection. Each step acts only on what is still to do, so a repeat changes nothing.
//!
//! A connection the gateway fails to close (other than one already gone) is logged and not
//! counted; its session is already ended and its token revoked, and its next heartbeat closes it.

use std::collections::BTreeSet;

use futures::StreamExt;
use lambda_http::Request;
use serde::Serialize;

use super::{to_data, App, Outcome};
use crate::auth::{authenticate, Caller, Permission};
use crate::domain::{OfflineReason, Session, TenantId, Timestamp, UserId};
use crate::error::ApiError;
use crate::gateway::{Delivery, Notice};
use crate::offline::{parse_offline_request, OfflineRequest, ReceiveObjectType};
use crate::store::UserRef;

/// Connections told and closed at once.
const GATEWAY_CONCURRENCY: usize = 32;

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
    let (users, skipped) = targets(app, &caller, &request).await?;

    let now = Timestamp::now();
    let tokens = app.store.revoke_user_tokens(&users, now).await?;
    let ended = app.store.end_user_sessions(&users, now, OfflineReason::Forced).await?;
    let connections = close_connections(app, &ended, request.broadcast, now).await;

    to_data(OfflineData {
        users: users.len(),
        sessions: ended.len(),
        tokens,
        connections,
        skipped_ids: skipped.iter().map(ToString::to_string).collect(),
    })
}

/// The users a request targets in the caller's scope, and the `USER` ids it skips.
async fn targets(app: &App, caller: &Caller, request: &OfflineRequest) -> Result<(Vec<UserRef>, Vec<i64>), ApiError> {
    let scope = caller.scope(None)?;
    match request.object_type {
        ReceiveObjectType::User => {
            let ids: Vec<UserId> = request.ids.iter().copied().map(UserId).collect();
            let found = app.store.find_users(scope, &ids).await?;
            let found_ids: BTreeSet<i64> = found.iter().map(|u| u.user_id.get()).collect();
            let skipped = request
                .ids
                .iter()
                .copied()
                .filter(|id| !found_ids.contains(id))
                .collect();
            Ok((found, skipped))
        }
        ReceiveObjectType::Tenant => {
            let tenants: Vec<TenantId> = request.ids.iter().copied().map(TenantId).collect();
            if let Some(other) = tenants.iter().find(|t| !scope.contains(**t)) {
                return Err(ApiError::forbidden_field(
                    "receiveObjectIds",
                    format!("You may only force your own tenant offline; tenant {other} is not yours."),
                ));
            }
            let mut users = Vec::new();
            for tenant in tenants {
                users.extend(app.store.tenant_users(tenant).await?);
            }
            Ok((users, Vec::new()))
        }
    }
}

/// Tells (when `broadcast`) and closes each ended session's connection; returns how many were
/// closed by this call (a connection already gone is not counted, and is not an error).
async fn close_connections(app: &App, ended: &[Session], broadcast: bool, now: Timestamp) -> usize {
    let notice = Notice::forced_offline(now);
    let notice = notice.as_str();
    // Owned ids: a stream over borrowed sessions trips the compiler's Send inference.
    let connections: Vec<String> = ended.iter().map(|session| session.connection_id.clone()).collect();
    futures::stream::iter(connections)
        .map(|connection| async move {
            let connection = connection.as_str();
            if broadcast {
                if let Err(error) = app.gateway.send(connection, notice).await {
                    tracing::warn!(%error, connection, "forced-offline notice not delivered");
                }
            }
            match app.gateway.close(connection).await {
                Ok(Delivery::Delivered) => true,
                Ok(Delivery::Gone) => false,
                Err(error) => {
                    tracing::warn!(%error, connection, "connection not closed");
                    false
                }
            }
        })
        .buffer_unordered(GATEWAY_CONCURRENCY)
        .filter(|closed| futures::future::ready(*closed))
        .count()
        .await
}
