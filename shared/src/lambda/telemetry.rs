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
//! | `requestId` | the invocation's one id: API Gateway's request id on the HTTP and WebSocket routes, Lambda's on the others (cleanup, presence events) |
//! | `function_request_id` | the Lambda request id |
//! | `xray_trace_id` | the X-Ray trace id, when tracing is on |
//!
//! `requestId` is the key to search by: the same id is the envelope's `ext.requestId` (what a
//! caller quotes), the metric line's `requestId` ([`super::metrics`]) and, for API Gateway's
//! calls, the `requestId` of its access logs; Lambda's id is beside it, under Powertools' name.
//! No separate `api_request_id`: it would repeat `requestId` on API Gateway's calls and be
//! missing on the others, two keys for one id. The invocation's context wins over a `requestId`
//! an event names itself, so every line of an invocation carries the same one.
//!
//! The invocation's keys come from [`in_context`], which the runtime wraps around each
//! invocation ([`super::runtime`]); lines logged outside one (start-up, the local API) carry
//! `service` and `function_name` alone, and an event's own `requestId` if it names one.
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

use crate::http::envelope;

/// The `service` of every log line and metric.
pub const SERVICE: &str = "message-center-online";

/// The crates that log whole events at TRACE: lambda_runtime writes every event it receives ("raw
/// JSON event received from Lambda"), `Authorization` header and WebSocket `?token=` included.
/// They are capped at DEBUG whatever `LOG_LEVEL` says (see [`level_filter`]).
pub const RAW_EVENT_TARGETS: [&str; 3] = ["lambda_runtime", "lambda_runtime_api_client", "lambda_http"];

/// The filter `LOG_LEVEL` names (`info` when it is unset or unreadable), with the
/// [`RAW_EVENT_TARGETS`] never more verbose than DEBUG: `trace`, even `lambda_runtime=trace`, logs
/// no raw event, so no configuration writes a token to the logs.
pub fn level_filter(log_level: Option<&str>) -> Targets {
    let asked = log_level
        .and_then(|level| Targets::from_str(level).ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let logs_raw_events = |target: &str| {
        RAW_EVENT_TARGETS
            .iter()
            .any(|raw| target == *raw || target.strip_prefix(raw).is_some_and(|rest| rest.starts_with("::")))
    };
    let mut capped = Targets::new().with_default(asked.default_level().unwrap_or(LevelFilter::OFF));
    for (target, level) in asked.iter() {
        let level = if logs_raw_events(target) {
            level.min(LevelFilter::DEBUG)
        } else {
            level
        };
        capped = capped.with_target(target, level);
    }
    for raw in RAW_EVENT_TARGETS {
        let named = asked.iter().any(|(target, _)| target == raw);
        if !named && asked.would_enable(raw, &tracing::Level::TRACE) {
            capped = capped.with_target(raw, LevelFilter::DEBUG);
        }
    }
    capped
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
    /// Lambda's request id.
    pub function_request_id: String,
    /// API Gateway's request id (HTTP and WebSocket routes), never empty.
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

    /// The context of an HTTP invocation, from what lambda_http attached to the request: API
    /// Gateway's id as the envelope reads it ([`envelope::api_request_id`]), so both name the
    /// request alike.
    pub fn of_http(req: &Request) -> Self {
        let api_request_id = envelope::api_request_id(req).map(str::to_owned);
        match req.lambda_context_ref() {
            Some(lambda) => InvocationContext::new(lambda, api_request_id),
            None => InvocationContext::new(&lambda_runtime::Context::default(), api_request_id),
        }
    }

    /// The invocation's one id, its log lines' and metric line's `requestId` and its envelope's
    /// `ext.requestId`: API Gateway's, else Lambda's.
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
            line.insert("requestId".into(), context.request_id().into());
            line.insert(
                "function_request_id".into(),
                context.function_request_id.as_str().into(),
            );
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
        in_context(context, async {
            tracing::warn!(durationMs = 1.5, "inside");
            tracing::info!(requestId = "something-else", "naming another id");
        })
        .await;
        let event_driven = InvocationContext {
            cold_start: false,
            function_request_id: "lambda-req-2".into(),
            api_request_id: None,
            xray_trace_id: None,
        };
        in_context(event_driven, async { tracing::info!("no API Gateway") }).await;

        let lines = lines(&captured);
        assert_eq!(lines.len(), 4);
        let (outside, inside) = (&lines[0], &lines[1]);
        assert_eq!(outside["message"], "before any invocation");
        assert_eq!(outside["status"], 200);
        assert_eq!(outside["service"], SERVICE);
        assert_eq!(outside["function_name"], "online-list");
        assert!(outside.get("cold_start").is_none(), "no invocation, no invocation keys");
        assert_eq!(inside["level"], "WARN");
        assert_eq!(inside["durationMs"], 1.5);
        assert_eq!(inside["cold_start"], true);
        assert_eq!(inside["requestId"], "api-req-1", "API Gateway's id, the envelope's");
        assert_eq!(inside["function_request_id"], "lambda-req-1");
        assert!(inside.get("api_request_id").is_none(), "one key for one id");
        assert_eq!(inside["xray_trace_id"], "Root=1-abc");
        assert!(inside["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            lines[2]["requestId"], "api-req-1",
            "every line of an invocation names its id, whatever an event says"
        );
        assert_eq!(lines[3]["requestId"], "lambda-req-2", "no API Gateway: Lambda's id");
        assert_eq!(lines[3]["function_request_id"], "lambda-req-2");
        assert!(outside.get("requestId").is_none());
    }

    /// What `level_filter(log_level)` lets through for `target` at `level`.
    fn enables(log_level: &str, target: &str, level: tracing::Level) -> bool {
        level_filter(Some(log_level)).would_enable(target, &level)
    }

    #[test]
    fn no_log_level_lets_the_runtime_log_raw_events() {
        use tracing::Level;
        let raw_event = "lambda_runtime::layers::api_response";
        for log_level in [
            "trace",
            "lambda_runtime=trace",
            "info,lambda_runtime::layers=trace",
            "lambda_http=trace,debug",
        ] {
            assert!(!enables(log_level, raw_event, Level::TRACE), "{log_level}");
            assert!(!enables(log_level, "lambda_runtime", Level::TRACE), "{log_level}");
            assert!(
                !enables(log_level, "lambda_runtime_api_client", Level::TRACE),
                "{log_level}"
            );
            assert!(!enables(log_level, "lambda_http::request", Level::TRACE), "{log_level}");
        }
        // The cap is a ceiling: DEBUG still reaches the runtime when asked for...
        assert!(enables("trace", raw_event, Level::DEBUG));
        assert!(enables("warn,lambda_runtime=trace", "lambda_runtime", Level::DEBUG));
        // ...and never raises it above what was asked.
        assert!(!enables("warn", "lambda_runtime", Level::INFO));
        assert!(!enables("lambda_runtime=error", "lambda_runtime", Level::WARN));
        // Everything else keeps the level asked for, TRACE included.
        assert!(enables("trace", "message_center::store", Level::TRACE));
        assert!(enables("message_center=trace,warn", "message_center", Level::TRACE));
        assert!(!enables("message_center=trace,warn", "aws_smithy_runtime", Level::INFO));
        assert!(
            enables("lambda_runtimes=trace", "lambda_runtimes", Level::TRACE),
            "another crate"
        );
        // Unset or unreadable: info.
        assert!(level_filter(None).would_enable("message_center", &Level::INFO));
        assert!(!level_filter(Some("loud")).would_enable("message_center", &Level::DEBUG));
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
