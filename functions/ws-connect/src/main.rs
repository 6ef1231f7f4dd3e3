//! Lambda function for WebSocket $connect: authenticates the token and records an online session.
//! The handler lives in `message_center::realtime`, shared with the local API and the tests.

use message_center::gateway::NoConnections;
use message_center::realtime::WsRoute;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    message_center::runtime::serve_websocket::<NoConnections>(WsRoute::Connect).await
}
