//! `docs/asyncapi.yaml` describes the WebSocket messages as the code writes them: each message the
//! service sends, made by the code itself (the notices, the answers of the `$default` route to
//! heartbeats, subscribes and anything else, the `PRESENCE` events as `publish` pushes them to a
//! subscriber), is held to its payload schema, nested records included: every member it
//! has is in the schema (the service's messages carry nothing undocumented), every required one is
//! there, each value has the type, constant, enumeration, pattern and bounds the schema gives. A
//! change to a message that the document does not follow fails here. The document's `SessionDetail`
//! is held to `openapi.yaml`'s, which it repeats; `infra/scripts/check-docs.sh` validates the
//! document itself with `@asyncapi/parser` and its examples with Ajv.

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;
use message_center::domain::access::Permission;
use message_center::domain::events::{PresenceEvent, SessionChange};
use message_center::domain::{OfflineReason, Timestamp};
use message_center::gateway::{NoEventBus, Notice};
use message_center::service::events::publish;
use message_center::service::App;
use message_center::store::{MemoryStore, TokenStore};
use message_center::ws::{handle, WsRoute};
use message_center_tests::events::ws_event_on;
use message_center_tests::fixtures::{at, online, token};
use message_center_tests::gateway::RecordingGateway;
use serde_json::Value;

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn document() -> Value {
    yaml("docs/asyncapi.yaml")
}

/// The patterns the document uses, each as the test reads it. A pattern the test does not know
/// fails, so that a new one is taught here rather than silently skipped.
fn matches_pattern(pattern: &str, text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match pattern {
        r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$" => {
            let shape: String = text.chars().map(|c| if c.is_ascii_digit() { '9' } else { c }).collect();
            shape == "9999-99-99 99:99:99"
        }
        "^-?[0-9]{1,19}$" => {
            let unsigned = text.strip_prefix('-').unwrap_or(text);
            digits(unsigned) && unsigned.len() <= 19
        }
        "^[1-9][0-9]{0,18}$" => digits(text) && !text.starts_with('0') && text.len() <= 19,
        "^[0-7][0-9A-HJKMNP-TV-Z]{25}$" => {
            const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
            text.len() == 26 && text.as_bytes()[0] <= b'7' && text.chars().all(|c| CROCKFORD.contains(c))
        }
        other => panic!("the test does not know the pattern {other}: teach matches_pattern"),
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        other => panic!("unknown JSON Schema type {other}"),
    }
}

/// The problems of `value` against `schema` (a subset of JSON Schema: the keywords the document
/// uses), each prefixed with where it is. Objects are held closed: a member the schema does not
/// list is a problem, whatever `additionalProperties` says.
fn problems(document: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: only local references: {reference}"));
        let target = document
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{at}: {reference} leads nowhere"));
        return problems(document, target, value, at);
    }
    let mut found = Vec::new();
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let fitting = choices
            .iter()
            .filter(|choice| problems(document, choice, value, at).is_empty())
            .count();
        if fitting != 1 {
            found.push(format!("{at}: {value} fits {fitting} of the oneOf choices, not one"));
        }
    }
    if let Some(choices) = schema.get("anyOf").and_then(Value::as_array) {
        if choices
            .iter()
            .all(|choice| !problems(document, choice, value, at).is_empty())
        {
            found.push(format!("{at}: {value} fits none of the anyOf choices"));
        }
    }
    match schema.get("type") {
        Some(Value::String(name)) if !type_matches(name, value) => {
            found.push(format!("{at}: {value} is not of type {name}"));
            return found;
        }
        Some(Value::Array(names)) if !names.iter().any(|n| type_matches(n.as_str().unwrap(), value)) => {
            found.push(format!("{at}: {value} is not of the types {names:?}"));
            return found;
        }
        _ => {}
    }
    if let Some(constant) = schema.get("const") {
        if value != constant {
            found.push(format!("{at}: {value} is not {constant}"));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            found.push(format!("{at}: {value} is not among {allowed:?}"));
        }
    }
    if let (Some(pattern), Some(text)) = (schema.get("pattern").and_then(Value::as_str), value.as_str()) {
        if !matches_pattern(pattern, text) {
            found.push(format!("{at}: {text:?} does not match {pattern}"));
        }
    }
    if let Some(number) = value.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|min| number < min)
        {
            found.push(format!("{at}: {value} is below the minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|max| number > max)
        {
            found.push(format!("{at}: {value} is above the maximum"));
        }
    }
    if let Some(members) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let required = required.as_str().unwrap();
            if !members.contains_key(required) {
                found.push(format!("{at}: `{required}` is missing"));
            }
        }
        if let Some(properties) = properties {
            for (member, value) in members {
                match properties.get(member) {
                    Some(property) => found.extend(problems(document, property, value, &format!("{at}.{member}"))),
                    None => found.push(format!("{at}: `{member}` is not in the document")),
                }
            }
        }
    }
    found
}

/// Checks `message` (a JSON text the service sends) against the payload schema of the document's
/// message `name`, and returns it parsed.
fn conforms(document: &Value, name: &str, message: &str) -> Value {
    let schema = &document["components"]["messages"][name]["payload"];
    assert!(schema.is_object(), "the document has the message {name}");
    let parsed: Value = serde_json::from_str(message).unwrap_or_else(|e| panic!("{name}: {message}: {e}"));
    let found = problems(document, schema, &parsed, name);
    assert!(found.is_empty(), "{message}\n{}", found.join("\n"));
    parsed
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
    conforms(&document, "subscribed", &Notice::subscribed(now));
    conforms(&document, "unsubscribed", &Notice::unsubscribed(now));
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

/// The `$default` answers to subscribe and unsubscribe, as the handler gives them: `SUBSCRIBED`,
/// `UNSUBSCRIBED`, and each refusal the document lists as an `ERROR`.
#[tokio::test]
async fn the_subscription_answers_are_the_documents_messages() {
    let document = document();
    let store = Arc::new(MemoryStore::new());
    let app = App::new(store.clone(), Arc::new(RecordingGateway::default()));
    let callers = [
        ("asyncapi-admin-3f9c", "c-admin", 7, 700, &[Permission::List][..], false),
        (
            "asyncapi-platform-3f9c",
            "c-platform",
            1,
            1,
            &[Permission::List][..],
            true,
        ),
        ("asyncapi-user-3f9c", "c-user", 7, 701, &[][..], false),
    ];
    for (secret, connection, tenant, user, permissions, platform) in callers {
        store
            .put_token(&token(secret, tenant, user, permissions, platform))
            .await
            .unwrap();
        let opened = handle(
            &app,
            WsRoute::Connect,
            ws_event_on(connection, &[("token", secret)], None),
        )
        .await;
        assert_eq!(opened.status_code, 200, "{connection}: {:?}", opened.body);
    }
    let say = |connection: &'static str, body: &'static str| {
        let app = &app;
        async move {
            let answer = handle(app, WsRoute::Default, ws_event_on(connection, &[], Some(body))).await;
            text_of(&answer)
        }
    };
    let answered = [
        ("c-admin", r#"{"action": "subscribe"}"#, "subscribed"),
        ("c-admin", r#"{"action": "subscribe", "tenantId": "7"}"#, "subscribed"),
        ("c-admin", r#"{"action": "subscribe", "tenantId": 8}"#, "error"),
        ("c-admin", r#"{"action": "subscribe", "tenantId": "0"}"#, "error"),
        ("c-admin", r#"{"action": "unsubscribe"}"#, "unsubscribed"),
        ("c-admin", r#"{"action": "unsubscribe"}"#, "unsubscribed"),
        ("c-platform", r#"{"action": "subscribe"}"#, "subscribed"),
        (
            "c-platform",
            r#"{"action": "subscribe", "tenantId": "8"}"#,
            "subscribed",
        ),
        ("c-platform", r#"{"action": "subscribe", "tenantId": 9}"#, "subscribed"),
        ("c-platform", r#"{"action": "subscribe", "tenantId": "eight"}"#, "error"),
        ("c-user", r#"{"action": "subscribe"}"#, "error"),
        ("no-such-connection", r#"{"action": "subscribe"}"#, "error"),
        ("c-user", r#"{"action": "dance"}"#, "error"),
    ];
    let examples: Vec<&Value> = document["components"]["messages"]["error"]["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|example| &example["payload"]["msg"])
        .collect();
    for (connection, body, name) in answered {
        let message = conforms(&document, name, &say(connection, body).await);
        let expected = document["components"]["messages"][name]["payload"]["properties"]["type"]["const"].clone();
        assert_eq!(message["type"], expected, "{connection} {body}");
        if name == "error" {
            // The examples show what the service says (a changed wording updates them).
            assert!(
                examples.contains(&&message["msg"]),
                "{connection} {body}: the error examples show {}",
                message["msg"]
            );
        }
    }
}

/// A subscriber receives the documented `PRESENCE` messages, as the service pushes them: a
/// session of its tenant starts and ends (a connect and a disconnect through the handlers), and
/// the memory store's changes are published as the local API and `online-events` publish them.
#[tokio::test]
async fn the_pushed_presence_events_are_the_documents_presence_message() {
    let document = document();
    let store = Arc::new(MemoryStore::new());
    let mut changes = store.changes();
    let gateway = Arc::new(RecordingGateway::with_live(["c-watcher".to_owned()]));
    let app = App::new(store.clone(), gateway.clone());
    let (watcher, comer) = ("asyncapi-watcher-5d21", "asyncapi-comer-5d21");
    store
        .put_token(&token(watcher, 4, 400, &[Permission::List], false))
        .await
        .unwrap();
    store.put_token(&token(comer, 4, 401, &[], false)).await.unwrap();
    let steps = [
        (WsRoute::Connect, "c-watcher", Some(watcher), None),
        (WsRoute::Default, "c-watcher", None, Some(r#"{"action": "subscribe"}"#)),
        (WsRoute::Connect, "c-comer", Some(comer), None),
        (WsRoute::Disconnect, "c-comer", None, None),
    ];
    for (route, connection, secret, body) in steps {
        let query: Vec<(&str, &str)> = secret.map(|s| ("token", s)).into_iter().collect();
        let answer = handle(&app, route, ws_event_on(connection, &query, body)).await;
        assert_eq!(answer.status_code, 200, "{connection}: {:?}", answer.body);
    }
    let mut made = Vec::new();
    while let Ok(change) = changes.try_recv() {
        made.push(change);
    }
    let published = publish(&app, &NoEventBus, &made).await;
    assert!(published.failed.is_empty(), "{published:?}");
    let pushed: Vec<Value> = gateway
        .sent()
        .into_iter()
        .filter(|(connection, _)| connection == "c-watcher")
        .map(|(_, message)| conforms(&document, "presence", &message))
        .filter(|message| message["session"]["userId"] == "401")
        .collect();
    let events: Vec<&Value> = pushed.iter().map(|message| &message["event"]).collect();
    assert_eq!(events, ["ONLINE", "OFFLINE"], "the comer's start and end, in order");
    assert_eq!(pushed[1]["session"]["offlineReason"], "DISCONNECTED");
}

#[test]
fn presence_events_are_the_documents_presence_message() {
    let document = document();
    let started = at(-600);
    let mut bare = online(7, 1001, "Ada Lovelace", started);
    (bare.user_agent, bare.device_id, bare.remote_address) = (None, None, None);
    let mut full = online(7, 9_007_199_254_740_993, "Grace Hopper", started);
    full.avatar = Some("https://cdn.example.com/avatars/grace.png".into());
    for session in [bare, full] {
        let came = PresenceEvent::from_change(&SessionChange {
            before: None,
            after: Some(session.clone()),
        })
        .expect("a new online session is an event");
        let message = conforms(&document, "presence", &came.message());
        assert_eq!(message["event"], "ONLINE");
        assert_eq!(
            message["datetime"], message["session"]["onlineDate"],
            "ONLINE is dated at the start"
        );
        for reason in [
            OfflineReason::Disconnected,
            OfflineReason::Forced,
            OfflineReason::Stale,
            OfflineReason::Expired,
        ] {
            let ended = session.clone().ended(at(-5), reason);
            let went = PresenceEvent::from_change(&SessionChange {
                before: Some(session.clone()),
                after: Some(ended),
            })
            .expect("an online session ended is an event");
            let message = conforms(&document, "presence", &went.message());
            assert_eq!(message["event"], "OFFLINE");
            assert_eq!(
                message["datetime"], message["session"]["offlineDate"],
                "OFFLINE is dated at the end"
            );
        }
    }
}

/// The document repeats `openapi.yaml`'s `SessionDetail` (the `PRESENCE` message's `session`, the
/// EventBridge events' `detail`): the same members, all required, of the same kinds.
#[test]
fn the_session_record_is_the_http_apis_detail_record() {
    let asyncapi = document();
    let openapi = yaml("openapi.yaml");
    let ours = &asyncapi["components"]["schemas"]["SessionDetail"];
    let theirs = &openapi["components"]["schemas"]["SessionDetail"];
    let names = |schema: &Value, key: &str| -> Vec<String> {
        let mut names: Vec<String> = match &schema[key] {
            Value::Array(items) => items.iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
            Value::Object(members) => members.keys().cloned().collect(),
            other => panic!("SessionDetail.{key} is {other}"),
        };
        names.sort();
        names
    };
    assert_eq!(names(ours, "properties"), names(theirs, "properties"));
    assert_eq!(names(ours, "required"), names(theirs, "required"));
    assert_eq!(ours["additionalProperties"], theirs["additionalProperties"]);
    let reference = |schema: &Value| {
        schema["$ref"]
            .as_str()
            .map(|r| r.rsplit('/').next().unwrap().to_owned())
    };
    for (member, property) in theirs["properties"].as_object().unwrap() {
        let mine = &ours["properties"][member];
        assert_eq!(
            reference(mine),
            reference(property),
            "SessionDetail.{member} names the same schema"
        );
        assert_eq!(mine["type"], property["type"], "SessionDetail.{member}");
        if let Some(name) = reference(property) {
            let (a, b) = (
                &asyncapi["components"]["schemas"][&name],
                &openapi["components"]["schemas"][&name],
            );
            assert_eq!(a["type"], b["type"], "{name}");
            assert_eq!(a["enum"], b["enum"], "{name}");
            let pattern = |schema: &Value| schema["pattern"].as_str().map(|p| p.replace(r"\d", "[0-9]"));
            assert_eq!(pattern(a), pattern(b), "{name}");
        }
    }
}

/// Every message the document lists has examples, each of which fits its schema as this test
/// reads it (`check-docs.sh` holds them to the schema with Ajv; this keeps the test's reading
/// honest), and a message with a `type` has examples of that type only.
#[test]
fn every_message_the_document_lists_has_examples_that_fit_it() {
    let document = document();
    for (name, message) in document["components"]["messages"].as_object().unwrap() {
        let examples = message["examples"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has examples"));
        assert!(!examples.is_empty(), "{name} has examples");
        for example in examples {
            let found = problems(&document, &message["payload"], &example["payload"], name);
            assert!(
                found.is_empty(),
                "{name}, example {}:\n{}",
                example["name"],
                found.join("\n")
            );
        }
        if let Some(constant) = message["payload"]["properties"]["type"]["const"].as_str() {
            assert!(
                examples.iter().all(|e| e["payload"]["type"] == constant),
                "{name}'s examples are of type {constant}"
            );
        }
    }
}

/// The test's reading of the schemas refuses what it should: a sanity check of `problems`.
#[test]
fn the_reading_of_the_schemas_refuses_what_it_should() {
    let document = document();
    let schema = &document["components"]["messages"]["presence"]["payload"];
    let good = document["components"]["messages"]["presence"]["examples"][0]["payload"].clone();
    assert!(problems(&document, schema, &good, "presence").is_empty());
    let mut spoiled = Vec::new();
    for (pointer, value) in [
        ("/session/tenantId", Value::from(1)),
        ("/session/id", Value::from("not-a-ulid")),
        ("/session/offlineReason", Value::from("BORED")),
        ("/session/onlineDate", Value::from("2026-11-28T10:00:00Z")),
        ("/session/avatar", Value::from(7)),
        ("/event", Value::from("AWAY")),
        ("/type", Value::from("PRESENT")),
    ] {
        let mut bad = good.clone();
        *bad.pointer_mut(pointer).unwrap() = value;
        spoiled.push((pointer.to_owned(), bad));
    }
    let mut extra = good.clone();
    extra["session"]["secret"] = Value::from("x");
    spoiled.push(("an extra member".into(), extra));
    let mut missing = good;
    missing["session"].as_object_mut().unwrap().remove("lastSeenDate");
    spoiled.push(("a missing member".into(), missing));
    for (what, bad) in spoiled {
        assert!(
            !problems(&document, schema, &bad, "presence").is_empty(),
            "{what} is refused"
        );
    }
}
