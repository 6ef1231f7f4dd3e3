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
#[cfg(doc)]
use crate::gateway::NoConnections;
use crate::gateway::{ApiGatewayConnections, GatewayFromEnv};
use crate::realtime::{self, WsRoute};
use crate::store::DynamoStore;

/// The DynamoDB store and the connection gateway from the environment: `SESSIONS_TABLE`,
/// `TOKENS_TABLE`, `DYNAMODB_ENDPOINT` (optional), and what `G` reads (for
/// [`ApiGatewayConnections`], `WEBSOCKET_MANAGEMENT_ENDPOINT`). No network call: clients connect
/// on their first request.
pub fn app_from_env<G: GatewayFromEnv>() -> App {
    App {
        store: Arc::new(DynamoStore::from_env()),
        gateway: G::from_env(),
    }
}

/// Runs one HTTP endpoint as a Lambda function behind API Gateway; `G`: how it reaches live
/// connections ([`NoConnections`] for a function that never does).
pub async fn serve_http<G: GatewayFromEnv>(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let app = app_from_env::<G>();
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(api::handle(app, endpoint, req).await)
    }))
    .await
}

/// Runs one WebSocket route as a Lambda function behind an API Gateway WebSocket API. Typed
/// events through lambda_runtime: a WebSocket event is not an HTTP request.
pub async fn serve_websocket<G: GatewayFromEnv>(route: WsRoute) -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let app = app_from_env::<G>();
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
    let app = app_from_env::<ApiGatewayConnections>();
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
