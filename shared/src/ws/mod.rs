//! The WebSocket adapter: API Gateway's WebSocket route events in, the presence use cases
//! ([`crate::service::presence`]) called, API Gateway's route responses out. `$connect` records
//! an online session (a bad token is refused with 401, a user over `CONNECTS_PER_MINUTE` with 429;
//! either leaves nothing), `$disconnect` ends it, and `$default` answers heartbeats. The Lambda
//! functions and the local API's `/ws` both call [`handle`], with the same API Gateway event
//! shape. Answers use the HTTP envelope ([`crate::http::envelope`]); the messages a client
//! receives are [`crate::gateway::Notice`]s.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body as EventBody;
use futures::FutureExt;
use serde::Serialize;

use crate::domain::{ApiError, SessionId, Timestamp};
use crate::gateway::Notice;
use crate::http::bearer_token;
use crate::http::envelope::{failure, success, to_data};
use crate::service::presence::{self, ConnectRequest, Heartbeat};
use crate::service::App;

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

/// `$connect`: the token from `?token=` (browsers cannot set headers on a WebSocket) or
/// `Authorization: Bearer`, and what API Gateway knows of the client.
async fn connect(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
    request_id: &str,
    now: Timestamp,
) -> ApiGatewayProxyResponse {
    let opened = async {
        let token = match event.query_string_parameters.first("token").filter(|t| !t.is_empty()) {
            Some(token) => token,
            None => bearer_token(&event.headers)?,
        };
        let request = ConnectRequest {
            connection_id: event.request_context.connection_id.clone(),
            device_id: event.query_string_parameters.first("deviceId").map(str::to_owned),
            user_agent: event
                .headers
                .get("user-agent")
                .and_then(|agent| agent.to_str().ok())
                .map(str::to_owned),
            remote_address: event.request_context.identity.source_ip.clone(),
        };
        let session = presence::connect(app, token, request, now).await?;
        to_data(Connected { session_id: session.id })
    };
    match opened.await {
        Ok(data) => envelope_response(success(request_id, &data)),
        Err(error) => envelope_response(failure(request_id, &error)),
    }
}

/// `$disconnect`: an unknown or already ended connection is harmless.
async fn disconnect(app: &App, connection_id: &str, request_id: &str, now: Timestamp) -> ApiGatewayProxyResponse {
    let data = presence::disconnect(app, connection_id, now)
        .await
        .and_then(|ended| to_data(serde_json::json!({ "ended": ended })));
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

/// `$default`: `{"action": "heartbeat"}` is answered `HEARTBEAT_ACK`; anything else is answered
/// with an error and changes nothing. A heartbeat on a session that has ended is told so (its
/// connection is closed); one whose token has ended gets an empty answer, the `SESSION_ENDED`
/// notice having gone through the gateway before the close.
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
    match presence::heartbeat(app, connection_id, now).await {
        Ok(Heartbeat::Acknowledged) => text_response(Notice::heartbeat_ack(now)),
        Ok(Heartbeat::SessionEnded(_)) => {
            let mut out = ApiGatewayProxyResponse::default();
            out.status_code = 200;
            out
        }
        Ok(Heartbeat::AlreadyEnded) => text_response(error_notice(
            now,
            "This connection's session has ended; connect again to go online.",
        )),
        Err(error) => text_response(error_notice(now, &error.msg)),
    }
}
