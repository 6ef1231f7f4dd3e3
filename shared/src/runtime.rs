//! What a Lambda binary does before its first request: logging, configuration and clients, built
//! once per container; then the runtime loop. Each function's `main.rs` is one call into here.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_http::{service_fn, Request};
use lambda_runtime::LambdaEvent;

use crate::api::{self, App, Endpoint};
use crate::cleanup::{run_cleanup, CleanupSettings, CleanupTrigger};
use crate::domain::Timestamp;
use crate::gateway::{ApiGatewayConnections, ConnectionGateway, NoConnections};
use crate::realtime::{self, WsRoute};
use crate::store::DynamoStore;

/// The DynamoDB store and the connection gateway from the environment: `SESSIONS_TABLE`,
/// `TOKENS_TABLE`, `DYNAMODB_ENDPOINT` (optional), `WEBSOCKET_MANAGEMENT_ENDPOINT` (optional:
/// without it there are no connections to close).
pub async fn app_from_env() -> App {
    let config = aws_config::load_from_env().await;
    let store = DynamoStore::from_config(&config);
    let gateway: Arc<dyn ConnectionGateway> = match std::env::var("WEBSOCKET_MANAGEMENT_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Arc::new(ApiGatewayConnections::new(&config, &endpoint)),
        _ => Arc::new(NoConnections),
    };
    App {
        store: Arc::new(store),
        gateway,
    }
}

/// Runs one HTTP endpoint as a Lambda function behind API Gateway.
pub async fn serve_http(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let app = app_from_env().await;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(api::handle(app, endpoint, req).await)
    }))
    .await
}

/// Runs one WebSocket route as a Lambda function behind an API Gateway WebSocket API. Typed
/// events through lambda_runtime: a WebSocket event is not an HTTP request.
pub async fn serve_websocket(route: WsRoute) -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let app = app_from_env().await;
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Infallible>(realtime::handle(app, route, event.payload).await)
        },
    ))
    .await
}

/// Time kept back from the Lambda deadline for the run's last batch and its log line.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Runs the scheduled cleanup as a Lambda function (EventBridge schedule, or invoked on demand
/// with any event). Each run stops inside the invocation's deadline; the report is its answer.
pub async fn serve_cleanup() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let app = app_from_env().await;
    let settings = CleanupSettings::from_env();
    let (app, settings) = (&app, &settings);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Option<CleanupTrigger>>| async move {
            let trigger = event.payload.unwrap_or_default();
            tracing::debug!(source = ?trigger.source, time = ?trigger.time, "cleanup triggered");
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as u64;
            let remaining = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
            let deadline = Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN);
            run_cleanup(app, settings, Timestamp::now(), deadline)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
