//! One user's presence. A user with no sessions in the caller's scope is 404, never 403: another
//! tenant's users do not exist for the caller.

use super::App;
use crate::domain::access::{Caller, Permission};
use crate::domain::session::PRESENCE_SESSION_LIMIT;
use crate::domain::{ApiError, Session, TenantId, UserId};

/// `user_id`'s sessions in the caller's scope (narrowed to `tenant` when the caller asked), newest
/// first: every online one and the newest ended ones, never none
/// ([`crate::domain::Presence::from_newest_first`] summarises them).
pub async fn detail(
    app: &App,
    caller: &Caller,
    user_id: UserId,
    tenant: Option<TenantId>,
) -> Result<Vec<Session>, ApiError> {
    caller.require(Permission::Detail)?;
    let scope = caller.scope(tenant)?;
    let sessions = app.store.user_sessions(scope, user_id, PRESENCE_SESSION_LIMIT).await?;
    if sessions.is_empty() {
        return Err(ApiError::not_found(format!("No sessions of user {user_id} are known.")));
    }
    Ok(sessions)
}
