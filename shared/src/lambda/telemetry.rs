//! Logging for every binary: one JSON object per line through tracing-subscriber (what CloudWatch
//! Logs Insights reads), the level from `LOG_LEVEL` (default `info`). Every line carries what
//! Lambda users filter on, at the top level (the keys AWS Lambda Powertools uses, so existing
//! queries and dashboards work):
//!
//! | key | value |
//! |---|---|
//! | `timestamp`, `level`, `message` | the event itself, then its own fields |
//! | `service` | `message-center-online` |
//! | `function_name` | `AWS_LAMBDA_FUNCTION_NAME` (absent outside Lambda) |
//! | `cold_start` | `true` on the first invocation of a container |
//! | `function_request_id` | the Lambda request id |
//! | `api_request_id` | API Gateway's request id (HTTP and WebSocket routes) |
//! | `xray_trace_id` | the X-Ray trace id, when tracing is on |
//!
//! The invocation's keys come from [`in_context`], which the runtime wraps around each
//! invocation ([`super::runtime`]); lines logged outside one (start-up) carry `service` and
//! `function_name` alone.
//!
//! `LOG_LEVEL` takes a level (`debug`) or per-target levels (`message_center=debug,warn`), read by
//! tracing-subscriber's `Targets` filter: the same syntax as `RUST_LOG` without its regular
//! expressions, which would add a regex engine (~1 MB) to every function binary.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The `service` of every log line and metric.
pub const SERVICE: &str = "message-center-online";

/// The filter `LOG_LEVEL` names; `info` when it is unset or unreadable.
pub fn level_filter(log_level: Option<&str>) -> Targets {
    log_level
        .and_then(|level| Targets::from_str(level).ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// Installs the JSON subscriber once; later calls do nothing.
pub fn init() {
    let filter = level_filter(std::env::var("LOG_LEVEL").ok().as_deref());
    let json = tracing_subscriber::fmt::layer().event_format(JsonLines::from_env());
    let _ = tracing_subscriber::registry().with(json).with(filter).try_init();
}

/// What one invocation's log lines carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationContext {
    /// The container's first invocation.
    pub cold_start: bool,
    pub function_request_id: String,
    pub api_request_id: Option<String>,
    pub xray_trace_id: Option<String>,
}

/// Whether the container has served an invocation yet.
static WARM: AtomicBool = AtomicBool::new(false);

impl InvocationContext {
    /// The context of an invocation Lambda describes as `lambda`, for API Gateway's request
    /// `api_request_id` when there is one. The first one a container makes is its cold start.
    pub fn new(lambda: &lambda_runtime::Context, api_request_id: Option<String>) -> Self {
        InvocationContext {
            cold_start: !WARM.swap(true, Ordering::Relaxed),
            function_request_id: lambda.request_id.clone(),
            api_request_id: api_request_id.filter(|id| !id.is_empty()),
            xray_trace_id: lambda.xray_trace_id.clone().filter(|id| !id.is_empty()),
        }
    }

    /// The context of an HTTP invocation, from what lambda_http attached to the request.
    pub fn of_http(req: &Request) -> Self {
        let api_request_id = match req.request_context_ref() {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
            _ => None,
        };
        match req.lambda_context_ref() {
            Some(lambda) => InvocationContext::new(lambda, api_request_id),
            None => InvocationContext::new(&lambda_runtime::Context::default(), api_request_id),
        }
    }

    /// The id a metric line names the invocation by: API Gateway's, else Lambda's.
    pub fn request_id(&self) -> &str {
        self.api_request_id.as_deref().unwrap_or(&self.function_request_id)
    }
}

tokio::task_local! {
    static CURRENT: InvocationContext;
}

/// Runs `work` with `context` on every line it logs.
pub async fn in_context<T>(context: InvocationContext, work: impl std::future::Future<Output = T>) -> T {
    CURRENT.scope(context, work).await
}

/// The log line format: one JSON object, the keys of the module's table at the top level.
pub struct JsonLines {
    function_name: Option<String>,
}

impl JsonLines {
    /// For the function `AWS_LAMBDA_FUNCTION_NAME` names (none outside Lambda).
    pub fn from_env() -> Self {
        JsonLines {
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok().filter(|n| !n.is_empty()),
        }
    }

    /// For the function `function_name`.
    pub fn new(function_name: Option<String>) -> Self {
        JsonLines { function_name }
    }

    /// The line of `event`, logged at `timestamp`, inside `context` when there is one.
    pub fn line(&self, timestamp: &str, event: &Event<'_>, context: Option<&InvocationContext>) -> String {
        let mut line = Map::new();
        line.insert("timestamp".into(), timestamp.into());
        line.insert("level".into(), event.metadata().level().as_str().into());
        event.record(&mut Fields(&mut line));
        line.insert("service".into(), SERVICE.into());
        if let Some(name) = &self.function_name {
            line.insert("function_name".into(), name.as_str().into());
        }
        if let Some(context) = context {
            line.insert("cold_start".into(), context.cold_start.into());
            line.insert(
                "function_request_id".into(),
                context.function_request_id.as_str().into(),
            );
            if let Some(id) = &context.api_request_id {
                line.insert("api_request_id".into(), id.as_str().into());
            }
            if let Some(id) = &context.xray_trace_id {
                line.insert("xray_trace_id".into(), id.as_str().into());
            }
        }
        Value::Object(line).to_string()
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let line = CURRENT
            .try_with(|context| self.line(&timestamp, event, Some(context)))
            .unwrap_or_else(|_| self.line(&timestamp, event, None));
        writeln!(writer, "{line}")
    }
}

/// An event's fields as JSON values: numbers and booleans as such, the rest as text.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        self.0.insert(field.name().into(), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Lines written by a subscriber with this format, for the test's own thread.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(captured: &Captured) -> Vec<Value> {
        String::from_utf8(captured.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn every_line_carries_what_lambda_users_filter_on() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .event_format(JsonLines::new(Some("online-list".into())))
                .with_writer(move || writer.clone()),
        );
        let _guard = tracing::subscriber::set_default(subscriber);
        tracing::info!(status = 200_u16, route = "GET /x", "before any invocation");
        let context = InvocationContext {
            cold_start: true,
            function_request_id: "lambda-req-1".into(),
            api_request_id: Some("api-req-1".into()),
            xray_trace_id: Some("Root=1-abc".into()),
        };
        in_context(context, async { tracing::warn!(durationMs = 1.5, "inside") }).await;

        let lines = lines(&captured);
        assert_eq!(lines.len(), 2);
        let (outside, inside) = (&lines[0], &lines[1]);
        assert_eq!(outside["message"], "before any invocation");
        assert_eq!(outside["status"], 200);
        assert_eq!(outside["service"], SERVICE);
        assert_eq!(outside["function_name"], "online-list");
        assert!(outside.get("cold_start").is_none(), "no invocation, no invocation keys");
        assert_eq!(inside["level"], "WARN");
        assert_eq!(inside["durationMs"], 1.5);
        assert_eq!(inside["cold_start"], true);
        assert_eq!(inside["function_request_id"], "lambda-req-1");
        assert_eq!(inside["api_request_id"], "api-req-1");
        assert_eq!(inside["xray_trace_id"], "Root=1-abc");
        assert!(inside["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn only_a_containers_first_invocation_is_a_cold_start() {
        let lambda = lambda_runtime::Context::default();
        let first = InvocationContext::new(&lambda, None).cold_start;
        let second = InvocationContext::new(&lambda, Some(String::new()));
        // Another test in this process may have made the first one: either way, not twice.
        assert!(!second.cold_start || !first);
        assert!(!second.cold_start);
        assert_eq!(second.api_request_id, None, "an empty id is no id");
        assert_eq!(second.request_id(), second.function_request_id);
    }
}
