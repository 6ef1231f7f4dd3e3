//! Lambda function for GET / and GET /console/{file}: the admin console's page and files, served
//! by the HTTP API itself so that the page and the API share one origin (no CORS).
//! The answers live in `message_center::http::console`, shared with the local API; no table is read.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    message_center::lambda::runtime::serve_console().await
}
