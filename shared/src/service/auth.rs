//! The door every use case goes through first: a token, looked up by its hash, must be known,
//! unrevoked and unexpired, and its holder must hold the permission the use case needs. The
//! adapters read the token off the request (a header, a query parameter); this decides what it
//! is worth.

use crate::domain::access::{is_token_syntax, Caller, Permission, TokenHash};
use crate::domain::{ApiError, Timestamp};
use crate::store::TokenStore;

/// The caller `token` authenticates at `now`: 401 when the token is malformed, unknown, revoked
/// or expired.
pub async fn authenticate(store: &(impl TokenStore + ?Sized), token: &str, now: Timestamp) -> Result<Caller, ApiError> {
    if !is_token_syntax(token) {
        return Err(ApiError::unauthorized("The token is malformed."));
    }
    let record = store
        .token(&TokenHash::of(token))
        .await?
        .ok_or_else(|| ApiError::unauthorized("The token is not known."))?;
    if record.revoked_at.is_some() {
        return Err(ApiError::unauthorized("The token has been revoked."));
    }
    if !record.is_live(now) {
        return Err(ApiError::unauthorized("The token has expired."));
    }
    Ok(Caller::from(record))
}

/// [`authenticate`], then 403 unless the caller holds `permission`. The HTTP adapter calls this
/// before it parses the rest of a request, so that a caller without a good token learns nothing
/// of what the request would have done; each use case checks its permission again
/// ([`Caller::require`]), so none can run for a caller without it.
pub async fn authorize(
    store: &(impl TokenStore + ?Sized),
    token: &str,
    permission: Permission,
) -> Result<Caller, ApiError> {
    let caller = authenticate(store, token, Timestamp::now()).await?;
    caller.require(permission)?;
    Ok(caller)
}
