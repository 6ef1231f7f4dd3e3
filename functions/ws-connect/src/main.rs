//! Lambda function for WebSocket $connect: authenticates the token and records an online session.
//! The handler lives in `message_center::ws`, shared with the local API and the tests.

use message_center::gateway::NoConnections;
use message_center::ws::WsRoute;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    message_center::lambda::runtime::serve_websocket::<NoConnections>(WsRoute::Connect).await
}
