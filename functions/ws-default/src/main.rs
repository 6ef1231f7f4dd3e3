//! Lambda function for WebSocket $default: answers heartbeats.
//! The handler lives in `message_center::ws`, shared with the local API and the tests.

use message_center::gateway::ApiGatewayConnections;
use message_center::ws::WsRoute;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    message_center::lambda::runtime::serve_websocket::<ApiGatewayConnections>(WsRoute::Default).await
}
