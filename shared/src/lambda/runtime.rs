//! What a Lambda binary does before its first request: logging, configuration and clients, built
//! once per container; then the runtime loop. Each function's `main.rs` is one call into here
//! (`serve_*`), and the loop hands each invocation to one `*_invocation` function: its log
//! context, its work and its metric line. The tests call those with events and Lambda contexts of
//! their own, and read the metric line through a [`MetricSink`] of their own.
//!
//! One id per invocation ([`InvocationContext::request_id`]): API Gateway's request id on the HTTP
//! and WebSocket routes, else Lambda's; the envelope's `ext.requestId`, every log line's
//! `requestId` and the metric line's `requestId` are that one, Lambda's id beside it as
//! `function_request_id`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::streams::DynamoDbEventResponse;
use lambda_http::http::header::IF_NONE_MATCH;
use lambda_http::http::Method;
use lambda_http::{service_fn, Body, Request, RequestExt, Response};
use lambda_runtime::LambdaEvent;

use super::aws::{dynamodb_endpoint_from_env, event_bus_from_env, sdk_config_from_env, tables_from_env};
use super::metrics::{self, Invocation, MetricSink, Stdout};
use super::telemetry::{self, InvocationContext};
use crate::domain::{ApiError, Timestamp};
use crate::gateway::{ApiGatewayConnections, ConnectionGateway, EventBus, NoConnections};
use crate::http::console::{self, ConsoleSettings};
use crate::http::{self, envelope, Endpoint};
use crate::service::cleanup::{cleanup, CleanupReport, CleanupTrigger};
use crate::service::{App, Config};
use crate::store::DynamoStore;
use crate::ws::{self, WsRoute};

/// The gateway a function binary builds at start-up, from the configuration its store was built
/// from (one HTTPS client and one trust-store load per container). A type parameter of the
/// function's entry point, not a run-time choice, so that a function that never messages or
/// closes a connection (list, search, detail, connect, disconnect) does not link the API Gateway
/// Management API client.
pub trait GatewayFromEnv {
    fn from_env(config: &aws_config::SdkConfig) -> Arc<dyn ConnectionGateway>;
}

impl GatewayFromEnv for NoConnections {
    fn from_env(_config: &aws_config::SdkConfig) -> Arc<dyn ConnectionGateway> {
        Arc::new(NoConnections)
    }
}

/// The stage named by `WEBSOCKET_MANAGEMENT_ENDPOINT`; without it, no connections to reach.
impl GatewayFromEnv for ApiGatewayConnections {
    fn from_env(config: &aws_config::SdkConfig) -> Arc<dyn ConnectionGateway> {
        match std::env::var("WEBSOCKET_MANAGEMENT_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => Arc::new(ApiGatewayConnections::new(config, &endpoint)),
            _ => Arc::new(NoConnections),
        }
    }
}

/// The DynamoDB store ([`tables_from_env`], [`dynamodb_endpoint_from_env`]), the connection
/// gateway (what `G` reads) and the service's configuration ([`Config::from_env`]), for the
/// function `function`. No network call: clients connect on their first request.
pub fn app_from_env<G: GatewayFromEnv>(function: &'static str) -> App {
    app_on::<G>(&sdk_config_from_env(function))
}

/// [`app_from_env`] on an SDK configuration already built (a function that makes other clients
/// from it too builds it, and its HTTPS client, once).
fn app_on<G: GatewayFromEnv>(config: &aws_config::SdkConfig) -> App {
    App {
        store: Arc::new(DynamoStore::from_config(
            config,
            tables_from_env(),
            dynamodb_endpoint_from_env(),
        )),
        gateway: G::from_env(config),
        config: Config::from_env(),
    }
}

/// Runs one HTTP endpoint as a Lambda function behind API Gateway; `G`: how it reaches live
/// connections ([`NoConnections`] for a function that never does).
pub async fn serve_http<G: GatewayFromEnv>(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    telemetry::init();
    let app = app_from_env::<G>(endpoint.function());
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(http_invocation(app, endpoint, req, &Stdout).await)
    }))
    .await
}

/// One invocation of an HTTP function, as lambda_http hands it over (the request with API
/// Gateway's and Lambda's contexts attached): the endpoint's answer, its metric line to `metrics`.
pub async fn http_invocation(app: &App, endpoint: Endpoint, req: Request, metrics: &dyn MetricSink) -> Response<Body> {
    let context = InvocationContext::of_http(&req);
    let work = http::handle(app, endpoint, req);
    measured(
        Some(app),
        endpoint.route(),
        context,
        work,
        |r| r.status().as_u16(),
        metrics,
    )
    .await
}

/// Runs one invocation's work inside its log context ([`telemetry::InvocationContext`]: every
/// log line carries the request ids, the trace id and whether it is the container's first), and
/// writes its metric line ([`metrics`]) to `metrics`: its duration, what it asked of DynamoDB
/// (one invocation at a time per container, so the store's usage before and after is this
/// invocation's; none for a function without an `app`, the console), its status, whether it was
/// a cold start and the same ids as its log lines.
async fn measured<T>(
    app: Option<&App>,
    route: &str,
    context: InvocationContext,
    work: impl std::future::Future<Output = T>,
    status_of: impl Fn(&T) -> u16,
    metrics: &dyn MetricSink,
) -> T {
    let started = Instant::now();
    let usage = || app.map(|app| app.store.usage()).unwrap_or_default();
    let before = usage();
    let request_id = context.request_id().to_owned();
    let function_request_id = context.function_request_id.clone();
    let cold_start = context.cold_start;
    let answer = telemetry::in_context(context, work).await;
    metrics::emit(
        &Invocation {
            route,
            request_id: &request_id,
            function_request_id: &function_request_id,
            status: status_of(&answer),
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            usage: usage() - before,
            cold_start,
        },
        metrics,
    );
    answer
}

/// Runs one WebSocket route as a Lambda function behind an API Gateway WebSocket API. Typed
/// events through lambda_runtime: a WebSocket event is not an HTTP request.
pub async fn serve_websocket<G: GatewayFromEnv>(route: WsRoute) -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let app = app_from_env::<G>(route.function());
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Infallible>(websocket_invocation(app, route, event, &Stdout).await)
        },
    ))
    .await
}

/// One invocation of a WebSocket function: the route's answer, its metric line to `metrics`. An
/// event without API Gateway's request id is handed to the handler with the invocation's (then
/// Lambda's), so that its envelope and its log line name the one the metric line names.
pub async fn websocket_invocation(
    app: &App,
    route: WsRoute,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    metrics: &dyn MetricSink,
) -> ApiGatewayProxyResponse {
    let LambdaEvent { mut payload, context } = event;
    let context = InvocationContext::new(&context, payload.request_context.request_id.take());
    payload.request_context.request_id = Some(context.request_id().to_owned());
    let work = ws::handle(app, route, payload);
    measured(Some(app), route.key(), context, work, |r| r.status_code as u16, metrics).await
}

/// Time kept back from the Lambda deadline for the run's last batch and its log line.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Runs the scheduled cleanup as a Lambda function (EventBridge schedule, or invoked on demand
/// with any event). Each run stops inside the invocation's deadline; the report is its answer.
pub async fn serve_cleanup() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let app = app_from_env::<ApiGatewayConnections>("online-cleanup");
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Option<CleanupTrigger>>| cleanup_invocation(app, event, &Stdout),
    ))
    .await
}

/// One invocation of the cleanup function: the run's report, its metric line to `metrics`. No
/// API Gateway: Lambda's request id is the invocation's.
pub async fn cleanup_invocation(
    app: &App,
    event: LambdaEvent<Option<CleanupTrigger>>,
    metrics: &dyn MetricSink,
) -> Result<CleanupReport, lambda_runtime::Error> {
    let trigger = event.payload.unwrap_or_default();
    let context = InvocationContext::new(&event.context, None);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let remaining = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
    let deadline = Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN);
    let work = async {
        tracing::debug!(source = ?trigger.source, time = ?trigger.time, "cleanup triggered");
        cleanup(app, Timestamp::now(), deadline).await
    };
    measured(
        Some(app),
        "cleanup",
        context,
        work,
        |r| if r.is_ok() { 200 } else { 500 },
        metrics,
    )
    .await
    .map_err(lambda_runtime::Error::from)
}

/// Runs the `online-events` function: batches of the sessions table's stream in, presence events
/// out to subscribed connections and the event bus ([`super::stream::handle_batch`]), the records
/// to retry reported back to Lambda.
pub async fn serve_events() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    // One SDK configuration (one HTTPS client, one trust-store load) for the store, the
    // management API and the bus.
    let sdk = sdk_config_from_env("online-events");
    let app = app_on::<ApiGatewayConnections>(&sdk);
    let bus = event_bus_from_env(&sdk);
    let (app, bus) = (&app, bus.as_ref());
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            Ok::<_, Infallible>(events_invocation(app, bus, event, &Stdout).await)
        },
    ))
    .await
}

/// One invocation of the `online-events` function: the batch response, its metric line to
/// `metrics`. No API Gateway: Lambda's request id is the invocation's.
pub async fn events_invocation(
    app: &App,
    bus: &dyn EventBus,
    event: LambdaEvent<StreamEvent>,
    metrics: &dyn MetricSink,
) -> DynamoDbEventResponse {
    let context = InvocationContext::new(&event.context, None);
    let work = super::stream::handle_batch(app, bus, event.payload);
    let status = |(r, _): &(DynamoDbEventResponse, _)| if r.batch_item_failures.is_empty() { 200 } else { 207 };
    let (response, _) = measured(Some(app), "stream", context, work, status, metrics).await;
    response
}

/// The admin console's routes on the HTTP API, as API Gateway names them: the page, and its
/// files under [`console::ASSET_PREFIX`]. The `online-console` function serves both.
pub const CONSOLE_ROUTES: [&str; 2] = ["GET /", "GET /console/{file}"];

/// Runs the `online-console` function: the admin console's page and files
/// ([`crate::http::console`]) from the HTTP API, so that the page and the API share one origin.
/// It reads no table: no SDK configuration, no store, no clients, only the settings (where the
/// WebSocket API is), read once.
pub async fn serve_console() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let settings = ConsoleSettings::from_env();
    let settings = &settings;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(console_invocation(settings, req, &Stdout).await)
    }))
    .await
}

/// One invocation of the `online-console` function ([`console_response`]), its metric line to
/// `metrics`.
pub async fn console_invocation(settings: &ConsoleSettings, req: Request, metrics: &dyn MetricSink) -> Response<Body> {
    let context = InvocationContext::of_http(&req);
    let route = console_route(&req).unwrap_or("console");
    let work = async { console_response(settings, &req) };
    measured(None, route, context, work, |r| r.status().as_u16(), metrics).await
}

/// The console's answer to one request from the HTTP API: its page or file, with the headers
/// [`console::answer`] gives (a 304 when `If-None-Match` names the current copy), or a 404 in the
/// contract's envelope (as the local API answers a path it has no route for). One log line, as
/// every HTTP function writes: the request id, route, path, status and duration, never a header.
pub fn console_response(settings: &ConsoleSettings, req: &Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = envelope::request_id(req);
    let route = console_route(req).unwrap_or("console");
    let path = console_path(req);
    let if_none_match = req.headers().get(IF_NONE_MATCH).and_then(|value| value.to_str().ok());
    let answer = (req.method() == Method::GET)
        .then(|| console::answer(&path, if_none_match, settings))
        .flatten();
    let response = match answer {
        Some(answer) => answer.into_response(),
        None => {
            let error = ApiError::not_found(format!("There is no route {} {path}.", req.method()));
            envelope::failure(&request_id, &error)
        }
    };
    tracing::info!(
        requestId = %request_id,
        route,
        path = %path,
        status = response.status().as_u16(),
        durationMs = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// Which of [`CONSOLE_ROUTES`] API Gateway matched the request to, if one.
fn console_route(req: &Request) -> Option<&'static str> {
    let route_key = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => context.route_key.as_deref(),
        _ => None,
    }?;
    CONSOLE_ROUTES.into_iter().find(|route| *route == route_key)
}

/// The console path a request asks for: from its route and the `file` path parameter when API
/// Gateway matched one of [`CONSOLE_ROUTES`] (so a stage or a custom domain's base path in front
/// of it changes nothing), else the request's raw path.
fn console_path(req: &Request) -> String {
    let file = req
        .path_parameters_ref()
        .and_then(|parameters| parameters.first("file"));
    match (console_route(req), file) {
        (Some("GET /"), _) => "/".to_owned(),
        (Some(_), Some(file)) => format!("{}{file}", console::ASSET_PREFIX),
        _ => match req.raw_http_path() {
            "" => req.uri().path().to_owned(),
            raw => raw.to_owned(),
        },
    }
}
