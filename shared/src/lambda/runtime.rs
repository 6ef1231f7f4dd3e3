//! What a Lambda binary does before its first request: logging, configuration and clients, built
//! once per container; then the runtime loop. Each function's `main.rs` is one call into here.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_http::http::header::IF_NONE_MATCH;
use lambda_http::http::Method;
use lambda_http::{service_fn, Body, Request, RequestExt, Response};
use lambda_runtime::LambdaEvent;

use super::aws::{dynamodb_endpoint_from_env, event_bus_from_env, sdk_config_from_env, tables_from_env};
use super::metrics::{self, Invocation};
use super::telemetry::{self, InvocationContext};
use crate::domain::{ApiError, Timestamp};
use crate::gateway::{ApiGatewayConnections, ConnectionGateway, NoConnections};
use crate::http::console::{self, ConsoleSettings};
use crate::http::{self, envelope, Endpoint};
use crate::service::cleanup::{cleanup, CleanupTrigger};
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
        let context = InvocationContext::of_http(&req);
        let response = measured(
            Some(app),
            endpoint.route(),
            context,
            http::handle(app, endpoint, req),
            |r| r.status().as_u16(),
        )
        .await;
        Ok::<_, Infallible>(response)
    }))
    .await
}

/// Runs one invocation's work inside its log context ([`telemetry::InvocationContext`]: every
/// log line carries the request ids, the trace id and whether it is the container's first), and
/// writes its metric line ([`metrics`]): its duration, what it asked of DynamoDB (one invocation
/// at a time per container, so the store's usage before and after is this invocation's; none for
/// a function without an `app`, the console), its status and whether it was a cold start.
async fn measured<T>(
    app: Option<&App>,
    route: &str,
    context: InvocationContext,
    work: impl std::future::Future<Output = T>,
    status_of: impl Fn(&T) -> u16,
) -> T {
    let started = Instant::now();
    let usage = || app.map(|app| app.store.usage()).unwrap_or_default();
    let before = usage();
    let request_id = context.request_id().to_owned();
    let cold_start = context.cold_start;
    let answer = telemetry::in_context(context, work).await;
    metrics::emit(&Invocation {
        route,
        request_id: &request_id,
        status: status_of(&answer),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        usage: usage() - before,
        cold_start,
    });
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
            let context = InvocationContext::new(&event.context, event.payload.request_context.request_id.clone());
            let work = ws::handle(app, route, event.payload);
            let response = measured(Some(app), route.key(), context, work, |r| r.status_code as u16).await;
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
    telemetry::init();
    let app = app_from_env::<ApiGatewayConnections>("online-cleanup");
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<Option<CleanupTrigger>>| async move {
            let trigger = event.payload.unwrap_or_default();
            let context = InvocationContext::new(&event.context, None);
            tracing::debug!(source = ?trigger.source, time = ?trigger.time, "cleanup triggered");
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as u64;
            let remaining = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
            let deadline = Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN);
            let work = cleanup(app, Timestamp::now(), deadline);
            measured(
                Some(app),
                "cleanup",
                context,
                work,
                |r| if r.is_ok() { 200 } else { 500 },
            )
            .await
            .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
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
        move |event: LambdaEvent<aws_lambda_events::event::dynamodb::Event>| async move {
            let context = InvocationContext::new(&event.context, None);
            let work = super::stream::handle_batch(app, bus, event.payload);
            let (response, _) = measured(Some(app), "stream", context, work, |(r, _)| {
                if r.batch_item_failures.is_empty() {
                    200
                } else {
                    207
                }
            })
            .await;
            Ok::<_, Infallible>(response)
        },
    ))
    .await
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
        let context = InvocationContext::of_http(&req);
        let route = console_route(&req).unwrap_or("console");
        let response = measured(None, route, context, async { console_response(settings, &req) }, |r| {
            r.status().as_u16()
        })
        .await;
        Ok::<_, Infallible>(response)
    }))
    .await
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
