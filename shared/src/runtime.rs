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
use crate::metrics::{self, Invocation};
use crate::realtime::{self, WsRoute};
use crate::store::DynamoStore;

/// The DynamoDB store and the connection gateway from the environment: `SESSIONS_TABLE`,
/// `TOKENS_TABLE`, `DYNAMODB_ENDPOINT` (optional), and what `G` reads (for
/// [`ApiGatewayConnections`], `WEBSOCKET_MANAGEMENT_ENDPOINT`). No network call: clients connect
/// on their first request.
pub fn app_from_env<G: GatewayFromEnv>(function: &'static str) -> App {
    let config = crate::aws::sdk_config_from_env(function);
    App {
        store: Arc::new(DynamoStore::from_config(&config)),
        gateway: G::from_env(&config),
        settings: crate::api::Settings::from_env(),
    }
}

/// Runs one HTTP endpoint as a Lambda function behind API Gateway; `G`: how it reaches live
/// connections ([`NoConnections`] for a function that never does).
pub async fn serve_http<G: GatewayFromEnv>(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let app = app_from_env::<G>(endpoint.function());
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        let request_id = crate::envelope::request_id(&req);
        let response = measured(
            app,
            endpoint.route(),
            &request_id,
            api::handle(app, endpoint, req),
            |r| r.status().as_u16(),
        )
        .await;
        Ok::<_, Infallible>(response)
    }))
    .await
}

/// Runs one invocation's work and writes its metric line ([`crate::metrics`]): its duration,
/// what it asked of DynamoDB (one invocation at a time per container, so the store's usage
/// before and after is this invocation's) and its status.
async fn measured<T>(
    app: &App,
    route: &str,
    request_id: &str,
    work: impl std::future::Future<Output = T>,
    status_of: impl Fn(&T) -> u16,
) -> T {
    let started = Instant::now();
    let before = app.store.usage();
    let answer = work.await;
    metrics::emit(&Invocation {
        route,
        request_id,
        status: status_of(&answer),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        usage: app.store.usage() - before,
    });
    answer
}

/// Runs one WebSocket route as a Lambda function behind an API Gateway WebSocket API. Typed
/// events through lambda_runtime: a WebSocket event is not an HTTP request.
pub async fn serve_websocket<G: GatewayFromEnv>(route: WsRoute) -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let app = app_from_env::<G>(route.function());
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            let request_id = event.context.request_id.clone();
            let work = realtime::handle(app, route, event.payload);
            let response = measured(app, route.key(), &request_id, work, |r| r.status_code as u16).await;
            Ok::<_, Infallible>(response)
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
    let app = app_from_env::<ApiGatewayConnections>("online-cleanup");
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
            let work = run_cleanup(app, settings, Timestamp::now(), deadline);
            measured(app, "cleanup", &event.context.request_id, work, |r| {
                if r.is_ok() {
                    200
                } else {
                    500
                }
            })
            .await
            .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
