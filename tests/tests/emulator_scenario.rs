//! `tests/emulator_scenario.json` lists every fixture once, in an order that holds on one store
//! seeded with the demo data, with the status and code each answers; `tests/lambda_emulator.sh`
//! invokes the real binaries in that order under `cargo lambda watch`. This runs the same order
//! through the handlers, on both stores, so the scenario cannot drift from the code, and checks
//! that every fixture is in it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use message_center::domain::Timestamp;
use message_center::gateway::NoEventBus;
use message_center::http::console::ConsoleSettings;
use message_center::http::handle;
use message_center::lambda::runtime::console_response;
use message_center::service::cleanup::CleanupSettings;
use message_center::service::App;
use message_center::store::Store;
use message_center::ws::{self, WsRoute};
use message_center_tests::events::{all_fixtures, endpoint_of, fixture_json, http_request, ws_event};
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::run_cleanup;
use serde_json::Value;

struct Invocation {
    event: String,
    function: String,
    status: Option<u16>,
    code: Option<String>,
}

fn scenario() -> Vec<Invocation> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/emulator_scenario.json");
    let scenario: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    scenario["invocations"]
        .as_array()
        .expect("a list of invocations")
        .iter()
        .map(|step| Invocation {
            event: step["event"].as_str().unwrap().to_owned(),
            function: step["function"].as_str().unwrap().to_owned(),
            status: step["status"].as_u64().map(|s| s as u16),
            code: step["code"].as_str().map(str::to_owned),
        })
        .collect()
}

/// The status and the envelope's `code` (or the notice's `type`) a handler answered with.
async fn run(app: &App, step: &Invocation) -> (Option<u16>, Option<String>) {
    let route = match step.function.as_str() {
        "ws-connect" => Some(WsRoute::Connect),
        "ws-disconnect" => Some(WsRoute::Disconnect),
        "ws-default" => Some(WsRoute::Default),
        _ => None,
    };
    if let Some(route) = route {
        let response = ws::handle(app, route, ws_event(&step.event)).await;
        let body: Value = match &response.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => serde_json::from_str(text).unwrap(),
            other => panic!("{}: no text body: {other:?}", step.event),
        };
        let code = body.get("code").or_else(|| body.get("type")).and_then(Value::as_str);
        return (Some(response.status_code as u16), code.map(str::to_owned));
    }
    if step.function == "online-events" {
        let batch = serde_json::from_str(&fixture_json(&step.event)).expect("a DynamoDB stream event");
        let (response, published) = message_center::lambda::stream::handle_batch(app, &NoEventBus, batch).await;
        assert!(response.batch_item_failures.is_empty(), "{}: {response:?}", step.event);
        assert_eq!(published.events, 2, "{}: one start and one end", step.event);
        return (None, None);
    }
    if step.function == "online-cleanup" {
        let deadline = Instant::now() + Duration::from_secs(30);
        run_cleanup(app, &CleanupSettings::default(), Timestamp::now(), deadline)
            .await
            .expect("the cleanup runs");
        return (None, None);
    }
    if step.function == "online-console" {
        // The page and its files are not the envelope (a 304 has no body at all): their status
        // alone; a 404 is the envelope.
        let response = console_response(&ConsoleSettings::default(), &http_request(&step.event));
        let is_json = response
            .headers()
            .get("content-type")
            .is_some_and(|t| t == "application/json");
        let code = is_json
            .then(|| serde_json::from_slice::<Value>(response.body().as_ref()).unwrap())
            .and_then(|body| body["code"].as_str().map(str::to_owned));
        return (Some(response.status().as_u16()), code);
    }
    let response = handle(app, endpoint_of(&step.event), http_request(&step.event)).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    (
        Some(response.status().as_u16()),
        body["code"].as_str().map(str::to_owned),
    )
}

async fn the_scenario_holds(store: Arc<dyn Store>) {
    local_api::demo::seed(store.as_ref(), Timestamp::now()).await.unwrap();
    let app = App {
        store,
        gateway: Arc::new(RecordingGateway::with_live(Vec::<String>::new())),
        config: Default::default(),
    };
    for step in scenario() {
        let answered = run(&app, &step).await;
        assert_eq!(
            answered,
            (step.status, step.code.clone()),
            "{} by {}",
            step.event,
            step.function
        );
    }
}

#[test]
fn every_fixture_is_in_the_scenario_once() {
    let mut listed: Vec<String> = scenario().into_iter().map(|step| step.event).collect();
    listed.sort();
    assert_eq!(listed, all_fixtures());
    for step in scenario() {
        assert!(
            step.event.starts_with(&step.function),
            "{} belongs to {}",
            step.event,
            step.function
        );
    }
}

message_center_tests::both_stores!(the_scenario_holds);
