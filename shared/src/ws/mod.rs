//! The WebSocket adapter: API Gateway's WebSocket route events in, the presence use cases
//! ([`crate::service::presence`]) called, API Gateway's route responses out. `$connect` records
//! an online session (a bad token is refused with 401, a user over `CONNECTS_PER_MINUTE` with 429;
//! either leaves nothing), `$disconnect` ends it, and `$default` answers heartbeats and
//! presence subscriptions (`subscribe`, `unsubscribe`). The Lambda
//! functions and the local API's `/ws` both call [`handle`], with the same API Gateway event
//! shape. Answers use the HTTP envelope ([`crate::http::envelope`]); the messages a client
//! receives are [`crate::gateway::Notice`]s.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body as EventBody;
use futures::FutureExt;
use serde::Serialize;

use crate::domain::{ApiError, SessionId, TenantId, Timestamp};
use crate::gateway::Notice;
use crate::http::bearer_token;
use crate::http::envelope::{failure, success, to_data};
use crate::http::query::parse_tenant_id;
use crate::service::presence::{self, ConnectRequest, Heartbeat, Subscribed};
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

/// Answers one WebSocket event, with one log line; a panic is a 500, never a lost answer. The
/// envelope's `ext.requestId` and the log line's `requestId` are the event's
/// `requestContext.requestId` (API Gateway's; a Lambda function puts Lambda's there when API
/// Gateway gave none, `crate::lambda::runtime`), else a fresh one.
pub async fn handle(app: &App, route: WsRoute, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let started = Instant::now();
    let context = &event.request_context;
    let request_id = context
        .request_id
        .clone()
        .filter(|id| !id.is_empty())
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

/// A message a client sends on `$default`.
#[derive(Debug, PartialEq, Eq)]
enum ClientMessage {
    Heartbeat,
    /// `tenantId`: the tenant a platform caller narrows to.
    Subscribe(Option<TenantId>),
    Unsubscribe,
}

/// What the client is told when its message is not understood.
const UNKNOWN_MESSAGE: &str = "Unknown message; send {\"action\": \"heartbeat\"}, {\"action\": \"subscribe\"} \
     (a platform caller may add \"tenantId\") or {\"action\": \"unsubscribe\"}.";

/// Reads a client's message; the error is what to tell it.
fn client_message(body: Option<&str>) -> Result<ClientMessage, ApiError> {
    let value: serde_json::Value = body
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or_else(|| ApiError::invalid("action", UNKNOWN_MESSAGE))?;
    match value.get("action").and_then(|action| action.as_str()) {
        Some("heartbeat") => Ok(ClientMessage::Heartbeat),
        Some("unsubscribe") => Ok(ClientMessage::Unsubscribe),
        Some("subscribe") => {
            let tenant = match value.get("tenantId") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(text)) => Some(parse_tenant_id(text)?),
                Some(serde_json::Value::Number(number)) => Some(parse_tenant_id(&number.to_string())?),
                Some(_) => {
                    return Err(ApiError::invalid(
                        "tenantId",
                        "tenantId must be a positive int64 of decimal digits",
                    ))
                }
            };
            Ok(ClientMessage::Subscribe(tenant))
        }
        _ => Err(ApiError::invalid("action", UNKNOWN_MESSAGE)),
    }
}

/// `$default`: `{"action": "heartbeat"}` is answered `HEARTBEAT_ACK`, `{"action": "subscribe"}`
/// `SUBSCRIBED` (then `PRESENCE` events follow), `{"action": "unsubscribe"}` `UNSUBSCRIBED`;
/// anything else, or a subscribe without the permission, is answered with an `ERROR` and changes
/// nothing. A message on a session that has ended is told so (its connection is closed); one whose
/// token has ended gets an empty answer, the `SESSION_ENDED` notice having gone through the
/// gateway before the close.
async fn message(app: &App, connection_id: &str, body: Option<&str>, now: Timestamp) -> ApiGatewayProxyResponse {
    let heartbeat = match client_message(body) {
        Err(error) => return text_response(error_notice(now, &error.msg)),
        Ok(ClientMessage::Heartbeat) => presence::heartbeat(app, connection_id, now).await,
        Ok(ClientMessage::Subscribe(tenant)) => match presence::subscribe(app, connection_id, tenant, now).await {
            Ok(Subscribed::Watching(_)) => return text_response(Notice::subscribed(now)),
            Ok(Subscribed::SessionOver(heartbeat)) => Ok(heartbeat),
            Err(error) => Err(error),
        },
        Ok(ClientMessage::Unsubscribe) => {
            return match presence::unsubscribe(app, connection_id).await {
                Ok(_) => text_response(Notice::unsubscribed(now)),
                Err(error) => text_response(error_notice(now, &error.msg)),
            }
        }
    };
    match heartbeat {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_are_read_and_bad_ones_named() {
        assert_eq!(
            client_message(Some(r#"{"action":"heartbeat"}"#)),
            Ok(ClientMessage::Heartbeat)
        );
        assert_eq!(
            client_message(Some(r#"{"action":"unsubscribe"}"#)),
            Ok(ClientMessage::Unsubscribe)
        );
        assert_eq!(
            client_message(Some(r#"{"action":"subscribe"}"#)),
            Ok(ClientMessage::Subscribe(None))
        );
        for tenant in [r#""42""#, "42"] {
            let text = format!(r#"{{"action":"subscribe","tenantId":{tenant}}}"#);
            assert_eq!(
                client_message(Some(&text)),
                Ok(ClientMessage::Subscribe(Some(TenantId(42))))
            );
        }
        for bad in [r#""0""#, "-1", r#""x""#, "1.5", "true", r#""99999999999999999999""#] {
            let text = format!(r#"{{"action":"subscribe","tenantId":{bad}}}"#);
            let error = client_message(Some(&text)).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("tenantId"), "{bad}");
        }
        for bad in [
            None,
            Some(""),
            Some("{"),
            Some("[]"),
            Some(r#"{"action":"dance"}"#),
            Some(r#"{"action":1}"#),
        ] {
            let error = client_message(bad).unwrap_err();
            assert!(error.msg.contains("subscribe"), "{bad:?}: {}", error.msg);
        }
    }
}
