//! The WebSocket API, locally: `/ws` turns each connect, message and close into the API Gateway
//! event the Lambda functions receive and answers with the same handlers (`ws::handle`);
//! [`LocalConnections`] is the connection gateway that really reaches the sockets, as the API
//! Gateway Management API does in AWS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::query_map::QueryMap;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use message_center::domain::Timestamp;
use message_center::gateway::{ConnectionGateway, Delivery, GatewayError};
use message_center::service::App;
use message_center::ws::{self, WsRoute};
use tokio::sync::mpsc;

/// What the service asks of one socket.
enum Outbound {
    Text(String),
    Close,
}

/// The open sockets, by connection id.
#[derive(Default)]
pub struct LocalConnections {
    sockets: Mutex<HashMap<String, mpsc::UnboundedSender<Outbound>>>,
}

impl LocalConnections {
    fn register(&self, connection_id: &str) -> mpsc::UnboundedReceiver<Outbound> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.sockets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(connection_id.to_owned(), sender);
        receiver
    }

    fn forget(&self, connection_id: &str) -> Option<mpsc::UnboundedSender<Outbound>> {
        self.sockets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(connection_id)
    }

    /// How many sockets are open.
    pub fn open(&self) -> usize {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[async_trait]
impl ConnectionGateway for LocalConnections {
    async fn send(&self, connection_id: &str, message: &str) -> Result<Delivery, GatewayError> {
        let sockets = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        match sockets.get(connection_id) {
            Some(socket) if socket.send(Outbound::Text(message.to_owned())).is_ok() => Ok(Delivery::Delivered),
            _ => Ok(Delivery::Gone),
        }
    }

    async fn close(&self, connection_id: &str) -> Result<Delivery, GatewayError> {
        match self.forget(connection_id) {
            Some(socket) if socket.send(Outbound::Close).is_ok() => Ok(Delivery::Delivered),
            _ => Ok(Delivery::Gone),
        }
    }
}

/// What the `/ws` route needs.
#[derive(Clone)]
pub struct WsState {
    pub app: App,
    pub connections: Arc<LocalConnections>,
}

/// What API Gateway knows of a connection, for the events it sends.
#[derive(Clone)]
struct ConnectionFacts {
    connection_id: String,
    source_ip: String,
    connected_at: i64,
}

fn event(
    route: WsRoute,
    facts: &ConnectionFacts,
    headers: HeaderMap,
    query: Option<&str>,
    body: Option<String>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut parameters: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        parameters
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    let mut event = ApiGatewayWebsocketProxyRequest::default();
    event.headers = headers;
    event.query_string_parameters = QueryMap::from(parameters);
    event.body = body;
    let context = &mut event.request_context;
    context.connection_id = Some(facts.connection_id.clone());
    context.route_key = Some(route.key().to_owned());
    context.event_type = Some(
        match route {
            WsRoute::Connect => "CONNECT",
            WsRoute::Disconnect => "DISCONNECT",
            WsRoute::Default => "MESSAGE",
        }
        .to_owned(),
    );
    context.request_id = Some(ulid::Ulid::new().to_string());
    context.stage = Some("local".to_owned());
    context.connected_at = facts.connected_at;
    context.identity.source_ip = Some(facts.source_ip.clone());
    event
}

/// `GET /ws`: runs `$connect`; a refusal answers the upgrade request with its status and body.
pub async fn upgrade(
    State(state): State<WsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let facts = ConnectionFacts {
        // API Gateway's ids look like `L0SM9cOFvHcCIhw=`; any unique string does here.
        connection_id: ulid::Ulid::new().to_string(),
        source_ip: peer.ip().to_string(),
        connected_at: Timestamp::now().millis(),
    };
    let response = ws::handle(
        &state.app,
        WsRoute::Connect,
        event(WsRoute::Connect, &facts, headers, query.as_deref(), None),
    )
    .await;
    if response.status_code != 200 {
        let status = axum::http::StatusCode::from_u16(response.status_code as u16)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = match response.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => text,
            _ => String::new(),
        };
        return (status, response.headers, body).into_response();
    }
    // Registered before the upgrade completes, so a forced offline right away still reaches it.
    let outbound = state.connections.register(&facts.connection_id);
    ws.on_upgrade(move |socket| run(socket, state, facts, outbound))
}

/// Relays one socket: client messages to `$default` (its answer back to the client), the
/// service's pushes and closes to the client; at the end, `$disconnect`.
async fn run(
    socket: WebSocket,
    state: WsState,
    facts: ConnectionFacts,
    mut outbound: mpsc::UnboundedReceiver<Outbound>,
) {
    let (mut to_client, mut from_client) = socket.split();
    loop {
        tokio::select! {
            incoming = from_client.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let message = event(WsRoute::Default, &facts, HeaderMap::new(), None, Some(text.to_string()));
                    let answer = ws::handle(&state.app, WsRoute::Default, message).await;
                    if let Some(aws_lambda_events::encodings::Body::Text(text)) = answer.body {
                        if to_client.send(Message::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            command = outbound.recv() => match command {
                Some(Outbound::Text(text)) => {
                    if to_client.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Close) | None => {
                    let frame = CloseFrame { code: 1000, reason: "closed by the service".into() };
                    let _ = to_client.send(Message::Close(Some(frame))).await;
                    break;
                }
            },
        }
    }
    state.connections.forget(&facts.connection_id);
    let gone = event(WsRoute::Disconnect, &facts, HeaderMap::new(), None, None);
    ws::handle(&state.app, WsRoute::Disconnect, gone).await;
}
