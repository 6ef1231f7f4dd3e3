//! CloudWatch metrics without an agent or an API call: one embedded-metric-format (EMF) JSON line
//! per invocation on stdout, which CloudWatch Logs turns into metrics in the namespace
//! `MessageCenterOnline`, by `Route`: `Duration` (ms), `DynamoDbCalls`, `ItemsRead`,
//! `ItemsWritten`, `Errors` (1 for a 5xx) and `ColdStart` (1 on a container's first invocation).
//! A dashboard or an alarm needs no code. `Status`, `requestId` (the invocation's one id: API
//! Gateway's request id, else Lambda's, the same as the envelope's `ext.requestId` and the log
//! lines' `requestId`) and `function_request_id` (Lambda's) ride along as properties, for Logs
//! Insights.

use serde_json::json;

use crate::domain::Timestamp;
use crate::store::UsageSnapshot;

/// The metrics' namespace.
pub const NAMESPACE: &str = "MessageCenterOnline";

/// One invocation, as its metric line reports it.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The route as API Gateway names it (`GET /api/v1/message/center/online`, `$connect`), or
    /// `cleanup`.
    pub route: &'a str,
    /// The invocation's id ([`super::telemetry::InvocationContext::request_id`]).
    pub request_id: &'a str,
    /// Lambda's request id.
    pub function_request_id: &'a str,
    pub status: u16,
    pub duration_ms: f64,
    /// What the invocation asked of DynamoDB.
    pub usage: UsageSnapshot,
    /// The container's first invocation.
    pub cold_start: bool,
}

/// The EMF line of one invocation, timestamped `now_ms` (epoch milliseconds).
pub fn emf_line(invocation: &Invocation<'_>, now_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Route"]],
                "Metrics": [
                    {"Name": "Duration", "Unit": "Milliseconds"},
                    {"Name": "DynamoDbCalls", "Unit": "Count"},
                    {"Name": "ItemsRead", "Unit": "Count"},
                    {"Name": "ItemsWritten", "Unit": "Count"},
                    {"Name": "Errors", "Unit": "Count"},
                    {"Name": "ColdStart", "Unit": "Count"},
                ],
            }],
        },
        "Route": invocation.route,
        "Duration": (invocation.duration_ms * 1000.0).round() / 1000.0,
        "DynamoDbCalls": invocation.usage.calls,
        "ItemsRead": invocation.usage.items_read,
        "ItemsWritten": invocation.usage.items_written,
        "Errors": u8::from(invocation.status >= 500),
        "ColdStart": u8::from(invocation.cold_start),
        "Status": invocation.status,
        "requestId": invocation.request_id,
        "function_request_id": invocation.function_request_id,
    })
    .to_string()
}

/// Where the metric lines go: [`Stdout`] in every function; a test passes its own, to read them.
pub trait MetricSink: Sync {
    /// Writes one line (without its line break).
    fn write_line(&self, line: &str);
}

/// The function's stdout: its CloudWatch log stream, where CloudWatch reads EMF lines.
pub struct Stdout;

impl MetricSink for Stdout {
    fn write_line(&self, line: &str) {
        println!("{line}");
    }
}

/// Writes the invocation's EMF line to `sink`.
pub fn emit(invocation: &Invocation<'_>, sink: &dyn MetricSink) {
    sink.write_line(&emf_line(invocation, Timestamp::now().millis()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_emf_object_with_every_metric_it_declares() {
        let line = emf_line(
            &Invocation {
                route: "GET /api/v1/message/center/online",
                request_id: "req-1",
                function_request_id: "lambda-req-1",
                status: 503,
                duration_ms: 12.3456,
                usage: UsageSnapshot {
                    calls: 2,
                    items_read: 12,
                    items_written: 0,
                },
                cold_start: true,
            },
            1_795_860_000_000,
        );
        assert!(!line.contains('\n'), "one line");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let directive = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(value["_aws"]["Timestamp"], 1_795_860_000_000_i64);
        for dimension in directive["Dimensions"][0].as_array().unwrap() {
            assert!(
                value[dimension.as_str().unwrap()].is_string(),
                "dimension {dimension} has a value"
            );
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(value[name].is_number(), "metric {name} has a number");
        }
        assert_eq!(
            (
                value["Duration"].as_f64(),
                value["ItemsRead"].as_u64(),
                value["Errors"].as_u64(),
                value["ColdStart"].as_u64()
            ),
            (Some(12.346), Some(12), Some(1), Some(1))
        );
        assert_eq!(value["requestId"], "req-1");
        assert_eq!(value["function_request_id"], "lambda-req-1");
    }
}
