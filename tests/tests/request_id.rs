//! One id per request (issue 19): each function's invocations through the `*_invocation` function
//! its binary's runtime loop calls (`message_center::lambda::runtime`: the log context, the work
//! and the metric line), with a known API Gateway request id and a different Lambda request id.
//! API Gateway's id is the envelope's `ext.requestId`, every log line's `requestId` and the metric
//! line's `requestId`, with Lambda's beside it as `function_request_id`; without API Gateway (the
//! cleanup, the presence events), or without its id, Lambda's is the one id everywhere.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body as EventBody;
use lambda_http::{Body, Context, LambdaEvent, Request, RequestExt, Response};
use message_center::domain::Timestamp;
use message_center::gateway::NoEventBus;
use message_center::http::console::ConsoleSettings;
use message_center::http::Endpoint;
use message_center::lambda::metrics::MetricSink;
use message_center::lambda::runtime::{
    cleanup_invocation, console_invocation, events_invocation, http_invocation, websocket_invocation,
};
use message_center::service::App;
use message_center::store::MemoryStore;
use message_center::ws::WsRoute;
use message_center_tests::events::{fixture_json, ws_event};
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::logs::invocation_lines;
use serde_json::Value;

/// The metric lines an invocation wrote, where a function writes them to stdout.
#[derive(Default)]
struct MetricLines(Mutex<Vec<String>>);

impl MetricSink for MetricLines {
    fn write_line(&self, line: &str) {
        self.0.lock().unwrap().push(line.to_owned());
    }
}

impl MetricLines {
    /// The one metric line written since the last call.
    fn take_one(&self) -> Value {
        let lines = std::mem::take(&mut *self.0.lock().unwrap());
        assert_eq!(lines.len(), 1, "one metric line per invocation: {lines:#?}");
        let line: Value = serde_json::from_str(&lines[0]).expect("a JSON metric line");
        assert!(line["_aws"]["CloudWatchMetrics"].is_array(), "an EMF line: {line}");
        line
    }
}

/// What the Lambda runtime hands over as the invocation `request_id`, a minute before its
/// deadline.
fn lambda_context(request_id: &str) -> Context {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = now_ms + 60_000;
    context
}

/// The demo's data in the embedded store, and a gateway on which the fixtures' connection is live.
async fn demo_app() -> App {
    let store = Arc::new(MemoryStore::new());
    local_api::demo::seed(store.as_ref(), Timestamp::now()).await.unwrap();
    App {
        store,
        gateway: Arc::new(RecordingGateway::with_live(["L0SM9cOFvHcCIhw=".to_owned()])),
        config: Default::default(),
    }
}

/// An HTTP fixture as lambda_http hands it to the function: `requestContext.requestId` set to
/// `api_id` (`None`: no id at all), Lambda's context the invocation `lambda_id`.
fn http_request(fixture: &str, api_id: Option<&str>, lambda_id: &str) -> Request {
    let mut event: Value = serde_json::from_str(&fixture_json(fixture)).unwrap();
    event["requestContext"]["requestId"] = api_id.into();
    lambda_http::request::from_str(&event.to_string())
        .unwrap_or_else(|e| panic!("events/{fixture}: {e}"))
        .with_lambda_context(lambda_context(lambda_id))
}

/// A WebSocket fixture as lambda_runtime hands it to the function, `requestContext.requestId` and
/// Lambda's id as [`http_request`] takes them.
fn ws_invocation(fixture: &str, api_id: Option<&str>, lambda_id: &str) -> LambdaEvent<ApiGatewayWebsocketProxyRequest> {
    let mut event = ws_event(fixture);
    event.request_context.request_id = api_id.map(str::to_owned);
    LambdaEvent::new(event, lambda_context(lambda_id))
}

fn envelope(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("a JSON envelope")
}

fn ws_body(response: &ApiGatewayProxyResponse) -> Value {
    match &response.body {
        Some(EventBody::Text(text)) => serde_json::from_str(text).expect("a JSON body"),
        other => panic!("no text body: {other:?}"),
    }
}

/// Asserts that the invocation Lambda knows as `lambda_id` goes by `id` in its log lines and its
/// metric line: every line it logged (among them its `message` line) carries `id` as
/// `requestId`, Lambda's id beside it, and no second key for the same id.
fn assert_one_id(id: &str, lambda_id: &str, message: &str, metrics: &MetricLines) {
    let lines = invocation_lines(lambda_id);
    assert!(
        lines.iter().any(|line| line["message"] == message),
        "the invocation's `{message}` line, with Lambda's id: {lines:#?}"
    );
    for line in &lines {
        assert_eq!(line["requestId"], id, "every line of the invocation: {line}");
        assert_eq!(line["function_request_id"], lambda_id, "{line}");
        assert!(line.get("api_request_id").is_none(), "one key for one id: {line}");
    }
    let metric = metrics.take_one();
    assert_eq!(metric["requestId"], id, "the metric line: {metric}");
    assert_eq!(metric["function_request_id"], lambda_id, "the metric line: {metric}");
}

#[tokio::test]
async fn an_http_request_is_known_by_api_gateways_id_in_its_envelope_log_lines_and_metric_line() {
    let app = demo_app().await;
    let metrics = MetricLines::default();
    // A listing (one log line), and a forced offline (a second one, naming what it did).
    let cases = [
        (
            "online-list.json",
            Endpoint::List,
            200,
            "apigw-req-0b7e4c",
            "lambda-req-http-1",
        ),
        (
            "online-off.json",
            Endpoint::Offline,
            200,
            "apigw-req-51aa90",
            "lambda-req-http-2",
        ),
        (
            "online-list-bad-token.json",
            Endpoint::List,
            401,
            "apigw-req-9c03d2",
            "lambda-req-http-3",
        ),
    ];
    for (fixture, endpoint, status, api_id, lambda_id) in cases {
        let request = http_request(fixture, Some(api_id), lambda_id);
        let response = http_invocation(&app, endpoint, request, &metrics).await;
        assert_eq!(response.status(), status, "{fixture}: {:?}", response.body());
        assert_eq!(
            envelope(&response)["ext"]["requestId"],
            api_id,
            "{fixture}: the envelope"
        );
        assert_one_id(api_id, lambda_id, "request", &metrics);
        let request_line = invocation_lines(lambda_id)
            .into_iter()
            .find(|line| line["message"] == "request")
            .unwrap();
        assert_eq!(request_line["route"], endpoint.route());
        assert_eq!(request_line["status"], status);
    }
    assert!(
        invocation_lines("lambda-req-http-2")
            .iter()
            .any(|line| line["message"] == "forced offline"),
        "a handler's own line is the invocation's too"
    );
}

#[tokio::test]
async fn an_http_request_without_api_gateways_id_is_known_by_lambdas() {
    let app = demo_app().await;
    let metrics = MetricLines::default();
    for (api_id, lambda_id) in [(None, "lambda-req-no-api-1"), (Some(""), "lambda-req-no-api-2")] {
        let request = http_request("online-list.json", api_id, lambda_id);
        let response = http_invocation(&app, Endpoint::List, request, &metrics).await;
        assert_eq!(response.status(), 200);
        assert_eq!(envelope(&response)["ext"]["requestId"], lambda_id, "{api_id:?}");
        assert_one_id(lambda_id, lambda_id, "request", &metrics);
    }
}

#[tokio::test]
async fn a_console_request_is_known_by_api_gateways_id() {
    let metrics = MetricLines::default();
    let settings = ConsoleSettings::default();
    let (api_id, lambda_id) = ("apigw-req-c0501e", "lambda-req-console-1");
    let request = http_request("online-console-not-found.json", Some(api_id), lambda_id);
    let response = console_invocation(&settings, request, &metrics).await;
    assert_eq!(response.status(), 404);
    assert_eq!(envelope(&response)["ext"]["requestId"], api_id);
    assert_one_id(api_id, lambda_id, "request", &metrics);

    let (api_id, lambda_id) = ("apigw-req-c0501f", "lambda-req-console-2");
    let response = console_invocation(
        &settings,
        http_request("online-console.json", Some(api_id), lambda_id),
        &metrics,
    )
    .await;
    assert_eq!(
        response.status(),
        200,
        "the page: no envelope, the same id in its lines"
    );
    assert_one_id(api_id, lambda_id, "request", &metrics);
}

#[tokio::test]
async fn a_websocket_event_is_known_by_api_gateways_id() {
    let app = demo_app().await;
    let metrics = MetricLines::default();
    let (api_id, lambda_id) = ("apigw-ws-3e8f21", "lambda-req-ws-1");
    let connected = websocket_invocation(
        &app,
        WsRoute::Connect,
        ws_invocation("ws-connect.json", Some(api_id), lambda_id),
        &metrics,
    )
    .await;
    assert_eq!(connected.status_code, 200, "{:?}", connected.body);
    assert_eq!(ws_body(&connected)["ext"]["requestId"], api_id, "the envelope");
    assert_one_id(api_id, lambda_id, "websocket", &metrics);

    // A heartbeat's answer is a notice, not the envelope: the id is in its lines alone.
    let (api_id, lambda_id) = ("apigw-ws-3e8f22", "lambda-req-ws-2");
    let event = ws_invocation("ws-default-heartbeat.json", Some(api_id), lambda_id);
    let acknowledged = websocket_invocation(&app, WsRoute::Default, event, &metrics).await;
    assert_eq!(ws_body(&acknowledged)["type"], "HEARTBEAT_ACK");
    assert_one_id(api_id, lambda_id, "websocket", &metrics);
}

#[tokio::test]
async fn a_websocket_event_without_api_gateways_id_is_known_by_lambdas() {
    let app = demo_app().await;
    let metrics = MetricLines::default();
    for (api_id, lambda_id) in [(None, "lambda-req-ws-no-api-1"), (Some(""), "lambda-req-ws-no-api-2")] {
        let event = ws_invocation("ws-disconnect.json", api_id, lambda_id);
        let ended = websocket_invocation(&app, WsRoute::Disconnect, event, &metrics).await;
        assert_eq!(ended.status_code, 200, "{:?}", ended.body);
        assert_eq!(
            ws_body(&ended)["ext"]["requestId"],
            lambda_id,
            "{api_id:?}: not a fresh one"
        );
        assert_one_id(lambda_id, lambda_id, "websocket", &metrics);
    }
}

#[tokio::test]
async fn the_cleanup_is_known_by_lambdas_id() {
    let app = demo_app().await;
    let metrics = MetricLines::default();
    let lambda_id = "lambda-req-cleanup-1";
    let trigger = serde_json::from_str(&fixture_json("online-cleanup.json")).expect("a schedule event");
    let report = cleanup_invocation(&app, LambdaEvent::new(trigger, lambda_context(lambda_id)), &metrics)
        .await
        .expect("the cleanup runs");
    assert!(!report.out_of_time, "{report:?}");
    assert_one_id(lambda_id, lambda_id, "cleanup", &metrics);
    assert!(
        invocation_lines(lambda_id)
            .iter()
            .any(|line| line["message"] == "cleanup triggered"),
        "the trigger's line is the invocation's too"
    );
}

#[tokio::test]
async fn the_presence_events_are_known_by_lambdas_id() {
    let app = demo_app().await;
    let metrics = MetricLines::default();
    let lambda_id = "lambda-req-events-1";
    let batch = serde_json::from_str(&fixture_json("online-events.json")).expect("a DynamoDB stream event");
    let response = events_invocation(
        &app,
        &NoEventBus,
        LambdaEvent::new(batch, lambda_context(lambda_id)),
        &metrics,
    )
    .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_one_id(lambda_id, lambda_id, "presence events", &metrics);
}
