//! Lambda function for the sessions table's DynamoDB stream: session starts and ends become
//! `PRESENCE` events pushed to subscribed WebSocket connections and put on EventBridge. The work
//! lives in `message_center::lambda::stream` (over `message_center::service::events`), shared
//! with the local API and the tests.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    message_center::lambda::runtime::serve_events().await
}
