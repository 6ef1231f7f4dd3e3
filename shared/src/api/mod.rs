//! The four HTTP endpoints as plain async functions from a request to a response. The Lambda
//! binaries, the local API and the tests all call [`handle`], so they run the very same code.

pub mod detail;
pub mod list;
pub mod offline;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use lambda_http::{Body, Request, Response};
use serde_json::value::RawValue;

pub(crate) use crate::envelope::to_data;
use crate::envelope::{failure, request_id, success_with_next_page, unfinished};
use crate::error::ApiError;
use crate::gateway::ConnectionGateway;
use crate::query::ListMode;
use crate::store::Store;

/// What every handler works with, built once per process (per Lambda container), not per request.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub gateway: Arc<dyn ConnectionGateway>,
    pub settings: Settings,
}

/// The handlers' configuration, read once at start ([`Settings::from_env`]); the default is the
/// contract's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Sessions one user may open per UTC minute; `None`: no limit (`CONNECTS_PER_MINUTE`).
    pub connects_per_minute: Option<u32>,
}

/// Sessions one user may open a minute, unless `CONNECTS_PER_MINUTE` says otherwise.
pub const DEFAULT_CONNECTS_PER_MINUTE: u32 = 30;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connects_per_minute: Some(DEFAULT_CONNECTS_PER_MINUTE),
        }
    }
}

impl Settings {
    /// From the environment: `CONNECTS_PER_MINUTE` (`0` turns the limit off; unset or unreadable
    /// keeps the default).
    pub fn from_env() -> Self {
        let connects_per_minute = match std::env::var("CONNECTS_PER_MINUTE").map(|v| v.trim().parse::<u32>()) {
            Ok(Ok(0)) => None,
            Ok(Ok(limit)) => Some(limit),
            _ => Some(DEFAULT_CONNECTS_PER_MINUTE),
        };
        Settings { connects_per_minute }
    }

    /// No per-user connect limit: for suites that connect one user many times a minute on purpose.
    pub fn unlimited() -> Self {
        Settings {
            connects_per_minute: None,
        }
    }
}

/// The HTTP endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    List,
    Search,
    Detail,
    Offline,
}

/// The base path of every endpoint.
pub const BASE_PATH: &str = "/api/v1/message/center/online";

impl Endpoint {
    /// The function (binary) that serves it.
    pub fn function(self) -> &'static str {
        match self {
            Endpoint::List => "online-list",
            Endpoint::Search => "online-search",
            Endpoint::Detail => "online-detail",
            Endpoint::Offline => "online-off",
        }
    }

    /// The route as API Gateway names it, for logs.
    pub fn route(self) -> &'static str {
        match self {
            Endpoint::List => "GET /api/v1/message/center/online",
            Endpoint::Search => "GET /api/v1/message/center/online/search",
            Endpoint::Detail => "GET /api/v1/message/center/online/{userId}",
            Endpoint::Offline => "POST /api/v1/message/center/online/off",
        }
    }
}

/// Answers one request: the endpoint's work, in the envelope, with one log line. A panic inside a
/// handler is answered as a 500 in the envelope, never as a dropped connection.
pub async fn handle(app: &App, endpoint: Endpoint, req: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&req);
    let work = async {
        match endpoint {
            Endpoint::List => list::list(app, &req, ListMode::List).await,
            Endpoint::Search => list::list(app, &req, ListMode::Search).await,
            Endpoint::Detail => detail::detail(app, &req).await,
            Endpoint::Offline => offline::force_offline(app, &req).await,
        }
    };
    let outcome = AssertUnwindSafe(work).catch_unwind().await.unwrap_or_else(|_| {
        tracing::error!(requestId = %request_id, "handler panicked");
        Err(ApiError::internal())
    });
    let response = match outcome {
        Ok(Done {
            data,
            unfinished: Some(msg),
            ..
        }) => unfinished(&request_id, &data, &msg),
        Ok(done) => success_with_next_page(&request_id, &done.data, done.next_page_token.as_deref()),
        Err(error) => failure(&request_id, &error),
    };
    let status = response.status().as_u16();
    tracing::info!(
        requestId = %request_id,
        route = endpoint.route(),
        status,
        durationMs = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// A handler's answer: a success, or the error.
pub type Outcome = Result<Done, ApiError>;

/// A success: the serialized `data`, and for a listing the token of the next page.
pub struct Done {
    pub data: Box<RawValue>,
    pub next_page_token: Option<String>,
    /// Set when the work stopped at its time budget ([`crate::budget`]): answered 202 with this
    /// message, `data` saying what was done.
    pub unfinished: Option<String>,
}

impl From<Box<RawValue>> for Done {
    fn from(data: Box<RawValue>) -> Self {
        Done {
            data,
            next_page_token: None,
            unfinished: None,
        }
    }
}
