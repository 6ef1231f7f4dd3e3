//! `docs/asyncapi.yaml` describes the WebSocket messages as the code writes them: each message the
//! service sends, made by the code itself, has exactly the members its schema lists, every
//! required one among them, with the `type` (and `reason`) the schema allows. A change to a notice
//! that the document does not follow fails here (`infra/scripts/check-docs.sh` validates the
//! document itself with `@asyncapi/parser`).

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;
use message_center::domain::{OfflineReason, Timestamp};
use message_center::gateway::Notice;
use message_center::service::App;
use message_center::store::MemoryStore;
use message_center::ws::{handle, WsRoute};
use message_center_tests::events::ws_event_on;
use message_center_tests::gateway::RecordingGateway;
use serde_json::Value;

fn document() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/asyncapi.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// Checks `message` (a JSON text the service sends) against the payload schema of the document's
/// message `name`.
fn conforms(document: &Value, name: &str, message: &str) {
    let schema = &document["components"]["messages"][name]["payload"];
    assert!(schema.is_object(), "the document has the message {name}");
    let message: Value = serde_json::from_str(message).unwrap_or_else(|e| panic!("{name}: {message}: {e}"));
    let members = message.as_object().unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for member in members.keys() {
        assert!(
            properties.contains_key(member),
            "{name}: `{member}` is not in the document"
        );
    }
    for required in schema["required"].as_array().unwrap() {
        let required = required.as_str().unwrap();
        assert!(
            members.contains_key(required),
            "{name}: `{required}` is missing: {message}"
        );
    }
    for (member, value) in members {
        let property = &properties[member];
        if let Some(constant) = property.get("const") {
            assert_eq!(value, constant, "{name}.{member}");
        }
        if let Some(allowed) = property["enum"].as_array() {
            assert!(
                allowed.contains(value),
                "{name}.{member}: {value} is not among {allowed:?}"
            );
        }
        if property.get("$ref").and_then(Value::as_str) == Some("#/components/schemas/Datetime") {
            let text = value.as_str().unwrap();
            let shape: String = text.chars().map(|c| if c.is_ascii_digit() { '9' } else { c }).collect();
            assert_eq!(shape, "9999-99-99 99:99:99", "{name}.{member}: {text}");
        }
    }
}

fn text_of(response: &ApiGatewayProxyResponse) -> String {
    match &response.body {
        Some(Body::Text(text)) => text.clone(),
        other => panic!("a text answer, not {other:?}"),
    }
}

#[test]
fn the_notices_are_the_documents_messages() {
    let document = document();
    let now = Timestamp::now();
    conforms(&document, "heartbeatAck", &Notice::heartbeat_ack(now));
    conforms(&document, "forcedOffline", &Notice::forced_offline(now));
    for reason in [OfflineReason::Expired, OfflineReason::Forced] {
        conforms(&document, "sessionEnded", &Notice::session_ended(now, reason));
    }
}

#[tokio::test]
async fn the_error_answers_are_the_documents_error_message() {
    let document = document();
    let app = App::new(Arc::new(MemoryStore::new()), Arc::new(RecordingGateway::default()));
    for body in [r#"{"action": "ping"}"#, "not json", r#"{"action": "heartbeat"}"#] {
        // The last one is a heartbeat on a connection that has no session.
        let answer = handle(
            &app,
            WsRoute::Default,
            ws_event_on("no-such-connection", &[], Some(body)),
        )
        .await;
        conforms(&document, "error", &text_of(&answer));
    }
}

#[test]
fn every_message_the_document_lists_has_an_example_of_its_type() {
    let document = document();
    for (name, message) in document["components"]["messages"].as_object().unwrap() {
        let Some(constant) = message["payload"]["properties"]["type"]["const"].as_str() else {
            continue;
        };
        let examples = message["examples"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has examples"));
        assert!(
            examples.iter().all(|e| e["payload"]["type"] == constant),
            "{name}'s examples are of type {constant}"
        );
    }
}
