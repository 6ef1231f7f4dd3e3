//! Reaching live WebSocket connections: push a message to one, or close it. In AWS this is the
//! API Gateway Management API; the local API has its own in-process implementation. A connection
//! that is already gone is not an error: it is reported as [`Delivery::Gone`]. Presence events
//! also go to an event bus ([`event_bus`]).

pub mod event_bus;

pub use event_bus::{EventBridgeBus, EventBus, NoEventBus};

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use serde::Serialize;

use crate::domain::{OfflineReason, Session, Timestamp};
use futures::StreamExt;

/// What became of a push or a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// The connection no longer exists (GoneException): nothing left to do.
    Gone,
}

/// A push or close that failed for a reason other than the connection being gone.
#[derive(Debug, thiserror::Error)]
#[error("connection gateway: {0}")]
pub struct GatewayError(pub String);

/// Live connections, by API Gateway connection id.
#[async_trait]
pub trait ConnectionGateway: Send + Sync + 'static {
    /// Sends one text message to the client.
    async fn send(&self, connection_id: &str, message: &str) -> Result<Delivery, GatewayError>;

    /// Closes the connection (API Gateway then runs `$disconnect`).
    async fn close(&self, connection_id: &str) -> Result<Delivery, GatewayError>;
}

/// Connections told and closed at once.
const CONCURRENCY: usize = 32;

/// Tells each ended session's client `notice` (when there is one) and closes its connection, a
/// few at once; returns how many were closed by this call. A connection already gone is not
/// counted and is not an error; any other failure is logged: the session is ended already, and
/// the client's next heartbeat is refused and closes it.
pub async fn close_all(gateway: &dyn ConnectionGateway, ended: &[Session], notice: Option<&str>) -> usize {
    // Owned ids: a stream over borrowed sessions trips the compiler's Send inference.
    let connections: Vec<String> = ended.iter().map(|session| session.connection_id.clone()).collect();
    futures::stream::iter(connections)
        .map(|connection| async move {
            let connection = connection.as_str();
            if let Some(notice) = notice {
                if let Err(error) = gateway.send(connection, notice).await {
                    tracing::warn!(%error, connection, "notice not delivered");
                }
            }
            match gateway.close(connection).await {
                Ok(Delivery::Delivered) => true,
                Ok(Delivery::Gone) => false,
                Err(error) => {
                    tracing::warn!(%error, connection, "connection not closed");
                    false
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|closed| futures::future::ready(*closed))
        .count()
        .await
}

/// A message the service pushes to a client.
#[derive(Debug, Serialize)]
pub struct Notice<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Why a session ended (`SESSION_ENDED` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<OfflineReason>,
    pub datetime: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<&'a str>,
}

impl Notice<'_> {
    /// The notice a forced-offline client receives before its connection is closed.
    pub fn forced_offline(at: Timestamp) -> String {
        let notice = Notice {
            kind: "FORCED_OFFLINE",
            reason: None,
            datetime: at,
            msg: Some("An administrator has signed you out. Sign in again to continue."),
        };
        serde_json::to_string(&notice).unwrap_or_default()
    }

    /// The answer to a subscribe: presence events follow.
    pub fn subscribed(at: Timestamp) -> String {
        Notice::plain("SUBSCRIBED", at)
    }

    /// The answer to an unsubscribe: no more presence events.
    pub fn unsubscribed(at: Timestamp) -> String {
        Notice::plain("UNSUBSCRIBED", at)
    }

    /// `{"type": kind, "datetime": at}`.
    fn plain(kind: &'static str, at: Timestamp) -> String {
        serde_json::to_string(&Notice {
            kind,
            reason: None,
            datetime: at,
            msg: None,
        })
        .unwrap_or_default()
    }

    /// The answer to a heartbeat.
    pub fn heartbeat_ack(at: Timestamp) -> String {
        Notice::plain("HEARTBEAT_ACK", at)
    }

    /// The notice a client receives before its connection is closed because its session ended
    /// with its token (`EXPIRED`, or `FORCED` when a forced offline revoked it).
    pub fn session_ended(at: Timestamp, reason: OfflineReason) -> String {
        let msg = match reason {
            OfflineReason::Forced => "An administrator has signed you out. Sign in again to continue.",
            _ => "Your sign-in has expired. Sign in again to continue.",
        };
        serde_json::to_string(&Notice {
            kind: "SESSION_ENDED",
            reason: Some(reason),
            datetime: at,
            msg: Some(msg),
        })
        .unwrap_or_default()
    }
}

/// The API Gateway Management API of one WebSocket stage.
pub struct ApiGatewayConnections {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ApiGatewayConnections {
    /// For the stage at `endpoint` (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`).
    pub fn new(config: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build();
        ApiGatewayConnections {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(config),
        }
    }
}

fn gone_or_error<E>(
    operation: &str,
    error: aws_sdk_apigatewaymanagement::error::SdkError<E>,
) -> Result<Delivery, GatewayError>
where
    E: aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata;
    if error.code() == Some("GoneException") {
        return Ok(Delivery::Gone);
    }
    Err(GatewayError(format!(
        "{operation}: {}",
        aws_sdk_apigatewaymanagement::error::DisplayErrorContext(error)
    )))
}

#[async_trait]
impl ConnectionGateway for ApiGatewayConnections {
    async fn send(&self, connection_id: &str, message: &str) -> Result<Delivery, GatewayError> {
        match self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(message.as_bytes()))
            .send()
            .await
        {
            Ok(_) => Ok(Delivery::Delivered),
            Err(error) => gone_or_error("PostToConnection", error),
        }
    }

    async fn close(&self, connection_id: &str) -> Result<Delivery, GatewayError> {
        match self
            .client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
        {
            Ok(_) => Ok(Delivery::Delivered),
            Err(error) => gone_or_error("DeleteConnection", error),
        }
    }
}

/// A gateway for a deployment without a WebSocket API: every connection is already gone.
pub struct NoConnections;

#[async_trait]
impl ConnectionGateway for NoConnections {
    async fn send(&self, _connection_id: &str, _message: &str) -> Result<Delivery, GatewayError> {
        Ok(Delivery::Gone)
    }

    async fn close(&self, _connection_id: &str) -> Result<Delivery, GatewayError> {
        Ok(Delivery::Gone)
    }
}
