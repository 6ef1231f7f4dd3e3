//! Lambda function for GET /api/v1/message/center/online/audit: a page of the audit trail of forced offlines.
//! The handler lives in `message_center::http` (over `message_center::service`), shared with the local API and the tests.

use message_center::gateway::NoConnections;
use message_center::http::Endpoint;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    message_center::lambda::runtime::serve_http::<NoConnections>(Endpoint::Audit).await
}
