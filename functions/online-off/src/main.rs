//! Lambda function for POST /api/v1/message/center/online/off: forced offline and logout.
//! The handler lives in `message_center::http` (over `message_center::service`), shared with the local API and the tests.

use message_center::gateway::ApiGatewayConnections;
use message_center::http::Endpoint;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    message_center::lambda::runtime::serve_http::<ApiGatewayConnections>(Endpoint::Offline).await
}
