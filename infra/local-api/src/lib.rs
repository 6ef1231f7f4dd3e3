//! The local API: every route of the service in one process on 127.0.0.1, each answered by the
//! same handler the Lambda function runs (`message_center::http::handle` for HTTP,
//! `message_center::ws::handle` for the WebSocket at `/ws`), so what works here works there.
//! The HTTP routes answer browsers of other origins by `message_center::http::cors`, as API Gateway's
//! CORS configuration does. Presence events are delivered from the store's changes ([`presence`]).
//! The binary (`main.rs`) adds flags, demo data and shutdown on a signal.

pub mod demo;
pub mod presence;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lambda_http::RequestExt;
use message_center::domain::Timestamp;
use message_center::gateway::{EventBus, NoEventBus};
use message_center::http::console::{self, ConsoleSettings};
use message_center::http::cors::{CorsAnswer, CorsPolicy, CorsRequest, PREFLIGHT_STATUS};
use message_center::http::envelope::failure;
use message_center::http::{self as api, Endpoint, BASE_PATH};
use message_center::service::cleanup::{cleanup, CleanupSettings};
use message_center::service::{App, Config};
use message_center::store::Store;
use message_center::ApiError;
use presence::Feed;
use websocket::{LocalConnections, WsState};

/// Largest request body accepted (Lambda's own limit for a synchronous invoke).
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// The service over `store`: the handlers' `App`, with a connection gateway that reaches this
/// process's own WebSocket clients.
pub fn local_app(store: Arc<dyn Store>) -> (App, Arc<LocalConnections>) {
    let connections = Arc::new(LocalConnections::default());
    (
        App {
            store,
            gateway: connections.clone(),
            config: Config::from_env(),
        },
        connections,
    )
}

/// The scheduled cleanup, locally: the same run as the Lambda function, on a timer.
#[derive(Debug, Clone, Copy)]
pub struct CleanupSchedule {
    pub every: Duration,
    pub settings: CleanupSettings,
}

/// Serves every route on `listener` until `shutdown` completes, running the cleanup on its
/// schedule when there is one; no origin is allowed CORS (see [`serve_with_cors`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    cleanup: Option<CleanupSchedule>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_cors(listener, store, cleanup, CorsPolicy::none(), shutdown).await
}

/// [`serve`], with the HTTP routes answering CORS for the origins `cors` allows.
pub async fn serve_with_cors(
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    cleanup: Option<CleanupSchedule>,
    cors: CorsPolicy,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let options = Options {
        cleanup,
        cors,
        ..Options::default()
    };
    serve_with(listener, store, options, shutdown).await
}

/// How [`serve_with`] runs besides its routes.
pub struct Options {
    pub cleanup: Option<CleanupSchedule>,
    pub cors: CorsPolicy,
    /// Where session changes come from, for presence events ([`Feed::None`]: no events).
    pub feed: Feed,
    /// Where presence events are also put.
    pub bus: Arc<dyn EventBus>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cleanup: None,
            cors: CorsPolicy::none(),
            feed: Feed::None,
            bus: Arc::new(NoEventBus),
        }
    }
}

/// Serves every route on `listener` until `shutdown` completes, with the cleanup on its schedule
/// and presence events delivered from `options.feed`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (mut app, connections) = local_app(store);
    if let Some(schedule) = &options.cleanup {
        app.config.cleanup = schedule.settings;
    }
    let timer = options
        .cleanup
        .map(|schedule| tokio::spawn(run_cleanup_every(app.clone(), schedule)));
    let delivery = tokio::spawn(presence::deliver(app.clone(), options.bus, options.feed));
    let service = router(app, connections, options.cors).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
    if let Some(timer) = timer {
        timer.abort();
    }
    delivery.abort();
    served
}

/// Runs the cleanup every `schedule.every` (the first run one period after start), each run
/// within half a period (at most 30 s), as the Lambda function's run is within its timeout.
async fn run_cleanup_every(app: App, schedule: CleanupSchedule) {
    let budget = (schedule.every / 2).min(Duration::from_secs(30));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + schedule.every, schedule.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let deadline = std::time::Instant::now() + budget;
        if let Err(error) = cleanup(&app, Timestamp::now(), deadline).await {
            tracing::error!(%error, "cleanup failed; the next run tries again");
        }
    }
}

/// The routes, as `template.yaml` declares them for API Gateway, answering CORS by `cors`, and the
/// WebSocket at `/ws` (a separate API on AWS, which has no CORS: browsers do not preflight a
/// WebSocket).
pub fn router(app: App, connections: Arc<LocalConnections>, cors: CorsPolicy) -> Router {
    let ws = Router::new()
        .route("/ws", get(websocket::upgrade))
        .method_not_allowed_fallback(no_route)
        .with_state(WsState {
            app: app.clone(),
            connections,
        });
    let app = Arc::new(app);
    Router::new()
        .route(
            BASE_PATH,
            get(|State(app): State<Arc<App>>, req: Request| call(app, Endpoint::List, req, None)),
        )
        .route(
            &format!("{BASE_PATH}/search"),
            get(|State(app): State<Arc<App>>, req: Request| call(app, Endpoint::Search, req, None)),
        )
        .route(
            &format!("{BASE_PATH}/off"),
            post(|State(app): State<Arc<App>>, req: Request| call(app, Endpoint::Offline, req, None)),
        )
        // A static segment: matched before `{userId}`, as API Gateway matches it.
        .route(
            &format!("{BASE_PATH}/audit"),
            get(|State(app): State<Arc<App>>, req: Request| call(app, Endpoint::Audit, req, None)),
        )
        .route(
            &format!("{BASE_PATH}/{{userId}}"),
            get(|State(app): State<Arc<App>>, req: Request| async move {
                let user_id = path_user_id(req.uri().path());
                call(app, Endpoint::Detail, req, Some(user_id)).await
            }),
        )
        .route("/openapi.json", get(openapi))
        // The admin console, as the `online-console` function serves it on AWS.
        .route("/", get(console))
        .route("/console/{file}", get(console))
        .fallback(no_route)
        .method_not_allowed_fallback(no_route)
        .with_state(app)
        // Last, so that it wraps the fallbacks too: a 404 to an allowed origin names it as well.
        .layer(axum::middleware::from_fn_with_state(Arc::new(cors), answer_cors))
        .merge(ws)
}

/// The CORS rule around the HTTP routes: a preflight is answered here, any other answer gets the
/// headers `message_center::http::cors` says (none for an origin it does not allow).
async fn answer_cors(State(cors): State<Arc<CorsPolicy>>, req: Request, next: Next) -> Response {
    let answer = {
        let header = |name: &str| req.headers().get(name).and_then(|value| value.to_str().ok());
        cors.answer(&CorsRequest {
            method: req.method().as_str(),
            origin: header("origin"),
            request_method: header("access-control-request-method"),
        })
    };
    let (mut response, headers) = match answer {
        CorsAnswer::Preflight(headers) => {
            let status = StatusCode::from_u16(PREFLIGHT_STATUS).unwrap_or(StatusCode::NO_CONTENT);
            (status.into_response(), headers)
        }
        CorsAnswer::Forward(headers) => (next.run(req).await, headers),
    };
    for (name, value) in headers {
        // The allowed origin came from a header value, so it is one; the rest are constants.
        let Ok(value) = HeaderValue::from_str(&value) else {
            continue;
        };
        let name = HeaderName::from_static(name);
        if name == axum::http::header::VARY {
            response.headers_mut().append(name, value);
        } else {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Any other method or path: a 404 in the envelope, as API Gateway answers a route it does not
/// have (it has no 405 either).
async fn no_route(req: Request) -> Response {
    let error = ApiError::not_found(format!("There is no route {} {}.", req.method(), req.uri().path()));
    into_axum(failure(&ulid::Ulid::new().to_string(), &error))
}

/// The detail route's `userId`, percent-decoded as API Gateway decodes path parameters; bytes
/// that are not UTF-8 become U+FFFD, so the handler answers them with its 400 on `userId`.
fn path_user_id(path: &str) -> String {
    let raw = path.rsplit('/').next().unwrap_or_default();
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

/// The admin console's page and files (`message_center::http::console`); `/ws` on this host is
/// its WebSocket.
async fn console(req: Request) -> Response {
    // No WebSocket URL of its own: the page finds `/ws` on this host.
    let settings = ConsoleSettings::default();
    let if_none_match = req
        .headers()
        .get(axum::http::header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok());
    match console::answer(req.uri().path(), if_none_match, &settings) {
        Some(answer) => into_axum(answer.into_response()),
        None => no_route(req).await,
    }
}

/// The OpenAPI document (`openapi.yaml` at the repository's root) as JSON, read once.
async fn openapi() -> Response {
    static DOCUMENT: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    let document = DOCUMENT.get_or_init(|| {
        serde_norway::from_str::<serde_json::Value>(include_str!("../../../openapi.yaml"))
            .map(|value| value.to_string())
            .map_err(|error| error.to_string())
    });
    match document {
        Ok(json) => ([(axum::http::header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        Err(error) => {
            tracing::error!(%error, "openapi.yaml does not parse");
            into_axum(failure(&ulid::Ulid::new().to_string(), &ApiError::internal()))
        }
    }
}

/// Hands an axum request to the Lambda handler as API Gateway would: same method, URI (with the
/// raw query string), headers and body, and the `userId` path parameter.
async fn call(app: Arc<App>, endpoint: Endpoint, req: Request, user_id: Option<String>) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = ApiError::invalid("body", format!("The body is larger than {MAX_BODY_BYTES} bytes."));
            return into_axum(failure(&ulid::Ulid::new().to_string(), &error));
        }
    };
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) if text.is_empty() => lambda_http::Body::Empty,
        Ok(text) => lambda_http::Body::Text(text),
        Err(not_text) => lambda_http::Body::Binary(not_text.into_bytes()),
    };
    // The caller's address, where API Gateway's HTTP API puts it (`requestContext.http.sourceIp`).
    let source_ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string());
    let mut lambda_request = lambda_http::Request::from_parts(parts, body);
    if let Some(source_ip) = source_ip {
        let mut context = lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(source_ip);
        lambda_request =
            lambda_request.with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context));
    }
    if let Some(user_id) = user_id {
        lambda_request =
            lambda_request.with_path_parameters(std::collections::HashMap::from([("userId".to_owned(), user_id)]));
    }
    into_axum(api::handle(&app, endpoint, lambda_request).await)
}

fn into_axum(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let body = match body {
        lambda_http::Body::Empty => axum::body::Body::empty(),
        lambda_http::Body::Text(text) => axum::body::Body::from(text),
        lambda_http::Body::Binary(bytes) => axum::body::Body::from(bytes),
        _ => axum::body::Body::empty(),
    };
    Response::from_parts(parts, body).into_response()
}
