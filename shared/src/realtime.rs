//! The WebSocket side of presence, as three handlers for API Gateway's WebSocket routes:
//! `$connect` records an online session (a bad token is refused with 401, a user over
//! `CONNECTS_PER_MINUTE` with 429; either leaves nothing), `$disconnect` ends it, and `$default`
//! answers heartbeats, ending a session whose token has expired, been revoked or deleted (a
//! session lives no longer than its token). The Lambda functions and the local API's `/ws` both
//! call [`handle`], with the same API Gateway event shape.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body as EventBody;
use futures::FutureExt;
use lambda_http::http::HeaderMap;
use serde::Serialize;

use crate::api::App;
use crate::auth::{authenticate_token, bearer_token, session_end_reason, TokenHash};
use crate::domain::{OfflineReason, Session, SessionId, Timestamp};
use crate::envelope::{failure, success, to_data};
use crate::error::ApiError;
use crate::gateway::Notice;
use crate::store::{ConnectCheck, Opened};

/// The WebSocket routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsRoute {
    Connect,
    Disconnect,
    Default,
}

impl WsRoute {
    /// The function (binary) that serves it.
    pub fn function(self) -> &'static str {
        match self {
            WsRoute::Connect => "ws-connect",
            WsRoute::Disconnect => "ws-disconnect",
            WsRoute::Default => "ws-default",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            WsRoute::Connect => "$connect",
            WsRoute::Disconnect => "$disconnect",
            WsRoute::Default => "$default",
        }
    }
}

/// Longest `deviceId` accepted at connect.
pub const MAX_DEVICE_ID_CHARS: usize = 128;
/// User agents are kept to this many characters.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// Answers one WebSocket event, with one log line; a panic is a 500, never a lost answer.
pub async fn handle(app: &App, route: WsRoute, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let started = Instant::now();
    let context = &event.request_context;
    let request_id = context
        .request_id
        .clone()
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    let connection_id = context.connection_id.clone().unwrap_or_default();
    let now = Timestamp::now();
    let work = async {
        match route {
            WsRoute::Connect => connect(app, &event, &request_id, now).await,
            WsRoute::Disconnect => disconnect(app, &connection_id, &request_id, now).await,
            WsRoute::Default => message(app, &connection_id, event.body.as_deref(), now).await,
        }
    };
    let response = AssertUnwindSafe(work).catch_unwind().await.unwrap_or_else(|_| {
        tracing::error!(requestId = %request_id, "websocket handler panicked");
        envelope_response(failure(&request_id, &ApiError::internal()))
    });
    tracing::info!(
        requestId = %request_id,
        route = route.key(),
        connectionId = %connection_id,
        status = response.status_code,
        durationMs = started.elapsed().as_secs_f64() * 1000.0,
        "websocket"
    );
    response
}

fn envelope_response(response: lambda_http::Response<lambda_http::Body>) -> ApiGatewayProxyResponse {
    let (parts, body) = response.into_parts();
    let mut out = ApiGatewayProxyResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = parts.headers;
    out.body = match body {
        lambda_http::Body::Text(text) => Some(EventBody::Text(text)),
        _ => None,
    };
    out
}

fn text_response(text: String) -> ApiGatewayProxyResponse {
    let mut out = ApiGatewayProxyResponse::default();
    out.status_code = 200;
    out.body = Some(EventBody::Text(text));
    out
}

/// `data` of a successful connect (API Gateway does not show it to the client; logs and tests do).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Connected {
    session_id: SessionId,
}

/// `$connect`: authenticates the token (`?token=` or `Authorization: Bearer`), then records the
/// online session and its connection in one transaction, together with a check that the token is
/// still unrevoked.
async fn connect(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
    request_id: &str,
    now: Timestamp,
) -> ApiGatewayProxyResponse {
    match open(app, event, now).await {
        Ok(session) => match to_data(Connected { session_id: session.id }) {
            Ok(data) => envelope_response(success(request_id, &data)),
            Err(error) => envelope_response(failure(request_id, &error)),
        },
        Err(error) => envelope_response(failure(request_id, &error)),
    }
}

async fn open(app: &App, event: &ApiGatewayWebsocketProxyRequest, now: Timestamp) -> Result<Session, ApiError> {
    let token = match event.query_string_parameters.first("token").filter(|t| !t.is_empty()) {
        Some(token) => token.to_owned(),
        None => bearer_token(&event.headers)?.to_owned(),
    };
    let caller = authenticate_token(app.store.as_ref(), &token, now).await?;
    let connection_id = event
        .request_context
        .connection_id
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::invalid("connectionId", "The event has no connection id."))?;
    let device_id = event
        .query_string_parameters
        .first("deviceId")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    if device_id
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DEVICE_ID_CHARS)
    {
        return Err(ApiError::invalid(
            "deviceId",
            format!("deviceId is longer than {MAX_DEVICE_ID_CHARS} characters."),
        ));
    }
    let session = Session {
        id: SessionId::new_at(now),
        tenant_id: caller.tenant_id,
        user_id: caller.user_id,
        full_name: caller.full_name,
        avatar: caller.avatar,
        user_agent: user_agent(&event.headers),
        device_id,
        remote_address: event
            .request_context
            .identity
            .source_ip
            .clone()
            .filter(|ip| !ip.is_empty()),
        connection_id,
        online_date: now,
        offline_date: None,
        last_seen_date: now,
        offline_reason: None,
    };
    // Recorded only while the token is still unrevoked: a forced offline that revoked it since
    // the check above refuses the connect here, rather than leave a forced user online.
    // The minutes are UTC calendar minutes, so a user may open up to twice the limit across a
    // minute's turn: the bound one counter item per user and minute buys (one conditional write
    // inside the connect's own transaction).
    let check = ConnectCheck {
        token: TokenHash::of(&token),
        per_minute: app.settings.connects_per_minute,
    };
    match app.store.open_session(&session, Some(&check)).await? {
        Opened::Recorded => Ok(session),
        Opened::ConnectionKnown => Err(ApiError::invalid(
            "connectionId",
            "This connection is already known (a repeated or late connect).",
        )),
        Opened::TokenRevoked => Err(ApiError::unauthorized("The token has been revoked.")),
        Opened::RateLimited => Err(ApiError::rate_limited(format!(
            "This user has opened {} sessions this minute, the most allowed; connect again next minute.",
            check.per_minute.unwrap_or_default()
        ))),
    }
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    let agent = headers.get("user-agent")?.to_str().ok()?;
    Some(agent.chars().take(MAX_USER_AGENT_CHARS).collect()).filter(|a: &String| !a.is_empty())
}

/// `$disconnect`: ends the connection's session; an unknown or already ended one is harmless.
async fn disconnect(app: &App, connection_id: &str, request_id: &str, now: Timestamp) -> ApiGatewayProxyResponse {
    let ended = app
        .store
        .close_connection(connection_id, now, OfflineReason::Disconnected)
        .await;
    let data = ended
        .map_err(ApiError::from)
        .and_then(|ended| to_data(serde_json::json!({ "ended": ended.is_some() })));
    match data {
        Ok(data) => envelope_response(success(request_id, &data)),
        Err(error) => envelope_response(failure(request_id, &error)),
    }
}

/// A message to the client that says what went wrong.
fn error_notice(now: Timestamp, msg: &str) -> String {
    serde_json::to_string(&Notice {
        kind: "ERROR",
        reason: None,
        datetime: now,
        msg: Some(msg),
    })
    .unwrap_or_default()
}

/// `$default`: `{"action": "heartbeat"}` moves `lastSeenDate` and is answered `HEARTBEAT_ACK`;
/// anything else is answered with an error and changes nothing. A heartbeat on a connection whose
/// session has ended (forced offline, stale) is told so and the connection is closed. A heartbeat
/// whose session's token has expired, been revoked or deleted ends the session (`EXPIRED`, or
/// `FORCED` for a revoked token), is told `SESSION_ENDED` and the connection is closed.
async fn message(app: &App, connection_id: &str, body: Option<&str>, now: Timestamp) -> ApiGatewayProxyResponse {
    let action = body
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|value| value.get("action").and_then(|a| a.as_str()).map(str::to_owned));
    if action.as_deref() != Some("heartbeat") {
        return text_response(error_notice(
            now,
            "Unknown message; the one message understood is {\"action\": \"heartbeat\"}.",
        ));
    }
    match app.store.touch_connection(connection_id, now).await {
        Ok(Some(bound)) => match token_ends_session(app, bound.token.as_ref(), now).await {
            Ok(None) => text_response(Notice::heartbeat_ack(now)),
            Ok(Some(reason)) => end_with_token(app, bound.session, reason, now).await,
            Err(error) => text_response(error_notice(now, &error.msg)),
        },
        Ok(None) => already_ended(app, connection_id, now).await,
        Err(error) => {
            let error = ApiError::from(error);
            text_response(error_notice(now, &error.msg))
        }
    }
}

/// Why a session opened with `token` must end now, if it must: the token's record read
/// consistently from the store. A session opened without a token (seeded data) is not bound to one.
async fn token_ends_session(
    app: &App,
    token: Option<&TokenHash>,
    now: Timestamp,
) -> Result<Option<OfflineReason>, ApiError> {
    let Some(hash) = token else {
        return Ok(None);
    };
    let record = app.store.token(hash).await?;
    Ok(session_end_reason(record.as_ref(), now))
}

/// A heartbeat on a session that has ended: told so, and its connection closed.
async fn already_ended(app: &App, connection_id: &str, now: Timestamp) -> ApiGatewayProxyResponse {
    if let Err(error) = app.gateway.close(connection_id).await {
        tracing::warn!(%error, connectionId = connection_id, "ended session's connection not closed");
    }
    text_response(error_notice(
        now,
        "This connection's session has ended; connect again to go online.",
    ))
}

/// Ends a session whose token has ended, tells its client `SESSION_ENDED` and closes its
/// connection. The notice goes through the gateway before the close (API Gateway drops a route
/// response to a connection closed meanwhile), so the heartbeat's own answer is empty. When another
/// call (a disconnect, a forced offline, the cleanup) ended the session first, the heartbeat is
/// answered as any heartbeat on an ended session.
async fn end_with_token(app: &App, session: Session, reason: OfflineReason, now: Timestamp) -> ApiGatewayProxyResponse {
    match app
        .store
        .end_sessions(std::slice::from_ref(&session), now, reason)
        .await
    {
        Ok(ended) if ended.is_empty() => return already_ended(app, &session.connection_id, now).await,
        Ok(_) => {}
        Err(error) => return text_response(error_notice(now, &ApiError::from(error).msg)),
    }
    let connection = session.connection_id.as_str();
    if let Err(error) = app.gateway.send(connection, &Notice::session_ended(now, reason)).await {
        tracing::warn!(%error, connectionId = connection, "session-ended notice not delivered");
    }
    if let Err(error) = app.gateway.close(connection).await {
        tracing::warn!(%error, connectionId = connection, "ended session's connection not closed");
    }
    let mut out = ApiGatewayProxyResponse::default();
    out.status_code = 200;
    out
}
