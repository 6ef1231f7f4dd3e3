//! One user's presence. A user with no sessions in the caller's scope is 404, never 403: another
//! tenant's users do not exist for the caller.

use lambda_http::{Request, RequestExt};

use super::{to_data, App, Done, Outcome};
use crate::auth::{authenticate, Permission};
use crate::domain::session::PRESENCE_SESSION_LIMIT;
use crate::domain::{Presence, UserId};
use crate::error::ApiError;
use crate::query::{parse_positive_id, tenant_id_parameter};

pub async fn detail(app: &App, req: &Request) -> Outcome {
    let caller = authenticate(app.store.as_ref(), req.headers(), Permission::Detail).await?;
    let user_id = user_id_of(req)?;
    let scope = caller.scope(tenant_id_parameter(req.uri().query().unwrap_or_default())?)?;
    let sessions = app.store.user_sessions(scope, user_id, PRESENCE_SESSION_LIMIT).await?;
    let presence = Presence::from_newest_first(&sessions)
        .ok_or_else(|| ApiError::not_found(format!("No sessions of user {user_id} are known.")))?;
    to_data(presence).map(Done::from)
}

/// The `{userId}` path parameter (from API Gateway's path parameters, else the last path segment).
fn user_id_of(req: &Request) -> Result<UserId, ApiError> {
    let from_parameters = req
        .path_parameters_ref()
        .and_then(|p| p.first("userId"))
        .map(str::to_owned);
    let text = from_parameters.unwrap_or_else(|| {
        let last = req.uri().path().rsplit('/').next().unwrap_or_default();
        percent_decode(last)
    });
    parse_positive_id(&text)
        .map(UserId)
        .ok_or_else(|| ApiError::invalid("userId", "userId must be a positive int64 of decimal digits."))
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("v={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
