//! The HTTP adapter: API Gateway HTTP API requests in, the use cases ([`crate::service`]) called,
//! responses in the contract's envelope ([`envelope`]) out. Each endpoint reads its token, asks
//! [`crate::service::auth::authorize`] (so a caller without a good token or the permission gets
//! 401/403 before anything else is looked at), parses the rest ([`query`], [`offline_body`]),
//! calls one use case and shapes its answer. The Lambda binaries, the local API and the tests all
//! call [`handle`], so they run the very same code. [`cors`] is the local API's CORS rule (in AWS,
//! API Gateway answers CORS). [`console`] serves the admin console's page beside the API.

pub mod audit;
pub mod console;
pub mod cors;
pub mod envelope;
pub mod offline_body;
pub mod query;
mod query_reader;

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;
use lambda_http::http::header::AUTHORIZATION;
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::domain::access::{is_token_syntax, Permission};
use crate::domain::{ApiError, InfoScope, Presence, Session, SessionView, Timestamp, UserId};
use crate::service::auth::authorize;
use crate::service::{detail, listing, offline, App};
use envelope::{failure, request_id, success_with_next_page, to_data, unfinished};
use offline_body::parse_offline_request;
use query::{parse_positive_id, parse_session_query, tenant_id_parameter, ListMode};

/// The HTTP endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    List,
    Search,
    Detail,
    Offline,
    /// The audit trail of forced offlines ([`audit`]).
    Audit,
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
            Endpoint::Audit => "online-audit",
        }
    }

    /// The route as API Gateway names it, for logs.
    pub fn route(self) -> &'static str {
        match self {
            Endpoint::List => "GET /api/v1/message/center/online",
            Endpoint::Search => "GET /api/v1/message/center/online/search",
            Endpoint::Detail => "GET /api/v1/message/center/online/{userId}",
            Endpoint::Offline => "POST /api/v1/message/center/online/off",
            Endpoint::Audit => "GET /api/v1/message/center/online/audit",
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
            Endpoint::List => list(app, &req, ListMode::List).await,
            Endpoint::Search => list(app, &req, ListMode::Search).await,
            Endpoint::Detail => user_detail(app, &req).await,
            Endpoint::Offline => force_offline(app, &req).await,
            Endpoint::Audit => audit::audit(app, &req).await,
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
    /// Set when the work stopped at its time budget ([`crate::domain::budget`]): answered 202 with this
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

/// `data` of a listing.
#[derive(Serialize)]
struct ListData<'a> {
    /// A string: int64 values travel as strings.
    total: String,
    list: Vec<SessionView<'a>>,
}

/// A page's `data`: `total` and the sessions as `view` shows them.
pub fn page_data(total: u64, sessions: &[Session], view: InfoScope) -> Result<Box<RawValue>, ApiError> {
    to_data(ListData {
        total: total.to_string(),
        list: sessions.iter().map(|s| SessionView::new(s, view)).collect(),
    })
}

/// List and search: pages are reached by `pageNo`, or by the `pageToken` a previous page gave in
/// `ext.nextPageToken`.
async fn list(app: &App, req: &Request, mode: ListMode) -> Outcome {
    let caller = authorize(app.store.as_ref(), bearer_token(req.headers())?, Permission::List).await?;
    let query = parse_session_query(req.uri().query().unwrap_or_default(), mode)?;
    let listing = match mode {
        ListMode::List => listing::list(app, &caller, query).await?,
        ListMode::Search => listing::search(app, &caller, query).await?,
    };
    Ok(Done {
        data: page_data(listing.total, &listing.sessions, listing.view)?,
        next_page_token: listing.next_page_token,
        unfinished: None,
    })
}

/// One user's presence.
async fn user_detail(app: &App, req: &Request) -> Outcome {
    let caller = authorize(app.store.as_ref(), bearer_token(req.headers())?, Permission::Detail).await?;
    let user_id = user_id_of(req)?;
    let tenant = tenant_id_parameter(req.uri().query().unwrap_or_default())?;
    let sessions = detail::detail(app, &caller, user_id, tenant).await?;
    to_data(Presence::from_newest_first(&sessions)).map(Done::from)
}

/// Forced offline and logout; 202 when the work stopped at its time budget.
async fn force_offline(app: &App, req: &Request) -> Outcome {
    let caller = authorize(app.store.as_ref(), bearer_token(req.headers())?, Permission::Offline).await?;
    let request = parse_offline_request(req.body().as_ref())?;
    let tenant = tenant_id_parameter(req.uri().query().unwrap_or_default())?;
    let origin = audit::request_origin(req);
    let outcome = offline::force_offline(app, &caller, request, tenant, &origin, Timestamp::now()).await?;
    Ok(Done {
        unfinished: outcome.unfinished.then(|| {
            "Not finished within the time limit: data counts what was done. Repeat the same call \
             (it is idempotent) to finish, with another token if yours was among those revoked; \
             sessions whose tokens are already revoked end at their next heartbeat or cleanup \
             meanwhile."
                .to_owned()
        }),
        ..Done::from(to_data(outcome.data)?)
    })
}

/// The `{userId}` path parameter (from API Gateway's path parameters, else the last path segment).
fn user_id_of(req: &Request) -> Result<UserId, ApiError> {
    let from_parameters = req
        .path_parameters_ref()
        .and_then(|p| p.first("userId"))
        .map(str::to_owned);
    let text = from_parameters.unwrap_or_else(|| {
        let last = req.uri().path().rsplit('/').next().unwrap_or_default();
        percent_decode(last)
    });
    parse_positive_id(&text)
        .map(UserId)
        .ok_or_else(|| ApiError::invalid("userId", "userId must be a positive int64 of decimal digits."))
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("v={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The token of an `Authorization: Bearer <token>` header, checked against RFC 6750's syntax.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("A bearer token is required: send Authorization: Bearer <token>."))?;
    let malformed = || ApiError::unauthorized("The Authorization header must be `Bearer <token>`.");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("Bearer") || !is_token_syntax(token) {
        return Err(malformed());
    }
    Ok(token)
}
