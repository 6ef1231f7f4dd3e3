//! Lambda function for the scheduled cleanup: ends stale sessions, deletes old ended sessions and
//! expired tokens. Triggered by an EventBridge schedule, or invoked on demand with any event.
//! The work lives in `message_center::service::cleanup`, shared with the local API and the tests.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    message_center::lambda::runtime::serve_cleanup().await
}
