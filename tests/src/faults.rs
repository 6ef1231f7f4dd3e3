//! Faults injected between the AWS SDK and a real server (moto), at a chosen rate: the SDK's HTTP
//! client is wrapped, so every request the service makes passes through [`Faults`], which either
//! forwards it untouched or answers the way AWS does when it is busy or failing:
//!
//! - [`Fault::Throttled`]: a 400 `ProvisionedThroughputExceededException` or `ThrottlingException`,
//!   the request never reaching the server;
//! - [`Fault::ServerError`]: a 500 `InternalServerError`, the request never reaching the server;
//! - [`Fault::LostResponse`]: the request reaches the server and is applied, then the answer is
//!   replaced by a 500, so the SDK sends it again: the case that tests "lands exactly once";
//! - [`Fault::Unprocessed`]: a `BatchWriteItem` reaches the server with half of its items, and the
//!   other half come back as `UnprocessedItems`;
//! - [`Fault::Gone`]: an API Gateway Management call answered 410 `GoneException`.
//!
//! Choices come from a seeded generator, so a failing run can be repeated.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::{json, Value};

/// A fault that can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// `ProvisionedThroughputExceededException` (odd draws) or `ThrottlingException` (even).
    Throttled,
    ServerError,
    LostResponse,
    Unprocessed,
    Gone,
}

/// Which requests are faulted, how often, and with what.
#[derive(Debug, Clone)]
struct Plan {
    /// Faulted requests per 1,000 eligible ones.
    per_mille: u64,
    /// The faults to choose from, one per faulted request.
    faults: Vec<Fault>,
    /// Only requests for these operations (`X-Amz-Target`'s operation, or the management API's
    /// `PostToConnection` / `DeleteConnection`); every operation when empty.
    operations: Vec<&'static str>,
}

/// The injector: shared by the test and the SDK clients it wraps.
pub struct Faults {
    plan: Mutex<Plan>,
    rng: Mutex<u64>,
    injected: Mutex<BTreeMap<Fault, u64>>,
    requests: Mutex<u64>,
}

impl Faults {
    /// An injector that injects nothing until [`Faults::inject`] is called.
    pub fn new(seed: u64) -> Arc<Faults> {
        Arc::new(Faults {
            plan: Mutex::new(Plan {
                per_mille: 0,
                faults: Vec::new(),
                operations: Vec::new(),
            }),
            rng: Mutex::new(seed | 1),
            injected: Mutex::default(),
            requests: Mutex::default(),
        })
    }

    /// From now on, faults `faults` on `per_mille` of 1,000 requests to `operations` (every
    /// operation when empty).
    pub fn inject(&self, per_mille: u64, faults: &[Fault], operations: &[&'static str]) {
        *self.plan.lock().unwrap() = Plan {
            per_mille,
            faults: faults.to_vec(),
            operations: operations.to_vec(),
        };
    }

    /// No more faults.
    pub fn stop(&self) {
        self.inject(0, &[], &[]);
    }

    /// How many faults of each kind were injected so far.
    pub fn injected(&self) -> BTreeMap<Fault, u64> {
        self.injected.lock().unwrap().clone()
    }

    /// Every fault injected so far.
    pub fn total_injected(&self) -> u64 {
        self.injected.lock().unwrap().values().sum()
    }

    /// Requests seen so far, faulted or not.
    pub fn requests(&self) -> u64 {
        *self.requests.lock().unwrap()
    }

    /// An HTTP client for SDK clients: `inner` with these faults in front of it.
    pub fn http_client(self: &Arc<Self>, inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(FaultyClient {
            faults: Arc::clone(self),
            inner,
        })
    }

    /// xorshift64: reproducible from the seed, good enough to pick faults.
    fn next(&self) -> u64 {
        let mut state = self.rng.lock().unwrap();
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        x
    }

    /// The fault for a request to `operation`, if any, counted as injected.
    fn draw(&self, operation: &str) -> Option<(Fault, u64)> {
        *self.requests.lock().unwrap() += 1;
        let plan = self.plan.lock().unwrap().clone();
        let eligible = plan.operations.is_empty() || plan.operations.contains(&operation);
        if !eligible || plan.faults.is_empty() || self.next() % 1000 >= plan.per_mille {
            return None;
        }
        let draw = self.next();
        let fault = plan.faults[(draw % plan.faults.len() as u64) as usize];
        // An unprocessed-items fault only means something to a batch write; a gone one only to
        // the management API.
        let applies = match fault {
            Fault::Unprocessed => operation == "BatchWriteItem",
            Fault::Gone => matches!(operation, "PostToConnection" | "DeleteConnection"),
            _ => true,
        };
        if !applies {
            return None;
        }
        *self.injected.lock().unwrap().entry(fault).or_default() += 1;
        Some((fault, draw))
    }
}

#[derive(Clone)]
struct FaultyClient {
    faults: Arc<Faults>,
    inner: SharedHttpClient,
}

impl std::fmt::Debug for FaultyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultyClient")
    }
}

impl HttpClient for FaultyClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            faults: Arc::clone(&self.faults),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Clone)]
struct FaultyConnector {
    faults: Arc<Faults>,
    inner: SharedHttpConnector,
}

impl std::fmt::Debug for FaultyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultyConnector")
    }
}

/// The operation a request calls: DynamoDB names it in `X-Amz-Target`; the management API by its
/// method on `/@connections/{id}`.
fn operation_of(request: &HttpRequest) -> &'static str {
    if let Some(target) = request.headers().get("x-amz-target") {
        let operation = target.rsplit('.').next().unwrap_or_default();
        for known in [
            "TransactWriteItems",
            "BatchWriteItem",
            "UpdateItem",
            "PutItem",
            "DeleteItem",
            "GetItem",
            "Query",
        ] {
            if operation == known {
                return known;
            }
        }
        return "other";
    }
    if request.uri().contains("/@connections/") {
        return match request.method() {
            "POST" => "PostToConnection",
            "DELETE" => "DeleteConnection",
            _ => "GetConnection",
        };
    }
    "other"
}

/// An AWS JSON error response.
fn error_response(status: u16, code: &str) -> HttpResponse {
    let body =
        json!({ "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": format!("injected {code}") });
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("a valid status"),
        SdkBody::from(body.to_string()),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response.headers_mut().insert("x-amzn-errortype", code.to_owned());
    response
}

/// Splits a BatchWriteItem request: the body with the first half of each table's items, and the
/// `UnprocessedItems` that hold the rest.
fn split_batch(body: &[u8]) -> Option<(Vec<u8>, Value)> {
    let mut request: Value = serde_json::from_slice(body).ok()?;
    let tables = request.get_mut("RequestItems")?.as_object_mut()?;
    let mut unprocessed = serde_json::Map::new();
    for (table, items) in tables.iter_mut() {
        let items = items.as_array_mut()?;
        let kept = items.len().div_ceil(2);
        let rest = items.split_off(kept);
        if !rest.is_empty() {
            unprocessed.insert(table.clone(), Value::Array(rest));
        }
    }
    let body = serde_json::to_vec(&request).ok()?;
    Some((body, json!({ "UnprocessedItems": unprocessed })))
}

impl HttpConnector for FaultyConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let operation = operation_of(&request);
        let Some((fault, draw)) = self.faults.draw(operation) else {
            return self.inner.call(request);
        };
        match fault {
            Fault::Throttled => {
                let code = if draw % 2 == 1 {
                    "ProvisionedThroughputExceededException"
                } else {
                    "ThrottlingException"
                };
                HttpConnectorFuture::ready(Ok(error_response(400, code)))
            }
            Fault::ServerError => HttpConnectorFuture::ready(Ok(error_response(500, "InternalServerError"))),
            Fault::Gone => HttpConnectorFuture::ready(Ok(error_response(410, "GoneException"))),
            Fault::LostResponse => {
                let sent = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    // Applied by the server; its answer never reaches the SDK.
                    let _applied = sent.await?;
                    Ok(error_response(500, "InternalServerError"))
                })
            }
            Fault::Unprocessed => {
                let split = request.body().bytes().and_then(split_batch);
                let Some((kept, unprocessed)) = split else {
                    return self.inner.call(request);
                };
                request.headers_mut().insert("content-length", kept.len().to_string());
                *request.body_mut() = SdkBody::from(kept);
                let sent = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    let answered = sent.await?;
                    if !answered.status().is_success() {
                        return Ok(answered);
                    }
                    let mut response = HttpResponse::new(answered.status(), SdkBody::from(unprocessed.to_string()));
                    response
                        .headers_mut()
                        .insert("content-type", "application/x-amz-json-1.0");
                    Ok(response)
                })
            }
        }
    }
}
