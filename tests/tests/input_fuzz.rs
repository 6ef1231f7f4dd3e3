//! Property tests of what callers may send, through the real handlers on the memory store: any
//! query string on list and search, any `userId` on detail, any body on forced offline and any
//! `token`/`deviceId` on WebSocket connect is answered 200 or a 4xx in the contract's envelope
//! (a 400 naming the field at fault), never a 5xx and never a panic (which the handlers would
//! answer as a 500). Requests are built from the `events/` fixtures as Lambda delivers them, with
//! the part under test replaced; the parsers alone are fuzzed by `fuzz/` (infra/scripts/fuzz.sh).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body as EventBody;
use lambda_http::{Body, Request};
use message_center::domain::Timestamp;
use message_center::http::{handle, Endpoint, BASE_PATH};
use message_center::service::{App, Config as ServiceConfig};
use message_center::store::{MemoryStore, Store};
use message_center::ws::{self, WsRoute};
use message_center_tests::contract::code_and_key;
use message_center_tests::events::fixture_json;
use message_center_tests::gateway::RecordingGateway;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

/// The demo's platform operator and tenant-1 admin (`local_api::demo::tokens`), both with every
/// permission.
const PLATFORM_TOKEN: &str = "demo-platform-operator";
const TENANT_ADMIN_TOKEN: &str = "demo-admin-tenant-1";

/// The `requestId` of the HTTP fixtures and of `ws-connect.json`, which every answer must carry.
const HTTP_REQUEST_ID: &str = "JKJaXmPLvHcESHA=";
const WS_REQUEST_ID: &str = "Lk2fYHcIoAMFjzQ=";

/// Cases per property (about 2,200 in all; some 5 to 20 s in a debug build).
const LIST_CASES: u32 = 600;
const DETAIL_CASES: u32 = 300;
const OFFLINE_CASES: u32 = 400;
const CONNECT_CASES: u32 = 300;

/// A property's fixed configuration: `cases` inputs, nothing written to disk.
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs `property` on `cases` inputs drawn from `strategy`, each on a runtime made once; a failing
/// input is shrunk and reported.
fn check<S: Strategy>(cases: u32, strategy: S, property: impl Fn(&tokio::runtime::Runtime, S::Value)) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    TestRunner::new(config(cases))
        .run(&strategy, |input| {
            property(&runtime, input);
            Ok(())
        })
        .unwrap();
}

/// An app on a memory store holding the demo's tokens and sessions.
async fn demo_app() -> App {
    let store = Arc::new(MemoryStore::new());
    local_api::demo::seed(store.as_ref(), Timestamp::now()).await.unwrap();
    App {
        store: store as Arc<dyn Store>,
        gateway: Arc::new(RecordingGateway::default()),
        // The properties connect the demo users far more than 30 times a minute.
        config: ServiceConfig::unlimited(),
    }
}

fn bearer(platform: bool) -> String {
    format!("Bearer {}", if platform { PLATFORM_TOKEN } else { TENANT_ADMIN_TOKEN })
}

/// `bytes` percent-encoded but for URI-unreserved characters (and `[`/`]` when `brackets`, as
/// browsers send `filters[0].key`), so that any bytes, invalid UTF-8 included, make a valid URI.
fn percent_encode(bytes: &[u8], brackets: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        let plain = byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || (brackets && b"[]".contains(&byte));
        if plain {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Checks the envelope of an answer with `status` and returns its body: `code`, `msg`,
/// `datetime`, `ext.requestId` and `ext.eKey` as the contract says, `data` only on success, and
/// on a 400 a non-empty `ext.field`.
fn assert_envelope(status: u16, body: &str, request_id: &str, input: &dyn std::fmt::Debug) -> Value {
    let body: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{status} for {input:?}: body is not JSON ({e}): {body}"));
    let (code, key) = code_and_key(status).unwrap_or_else(|| panic!("status {status} for {input:?}: {body}"));
    assert_eq!(body["code"], code, "{input:?}: {body}");
    assert!(
        body["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{input:?}: msg in {body}"
    );
    assert!(
        Timestamp::parse(body["datetime"].as_str().unwrap_or_default()).is_ok(),
        "{input:?}: datetime in {body}"
    );
    assert_eq!(body["ext"]["requestId"], request_id, "{input:?}: {body}");
    assert_eq!(
        body["ext"].get("eKey").and_then(Value::as_str),
        key,
        "{input:?}: {body}"
    );
    assert_eq!(body["data"].is_null(), status != 200, "{input:?}: data in {body}");
    if status == 400 {
        assert!(
            body["ext"]["field"].as_str().is_some_and(|f| !f.is_empty()),
            "{input:?}: a 400 names its field: {body}"
        );
    }
    body
}

/// Sends `request` to `endpoint` and checks the envelope; returns the status and body.
async fn call(app: &App, endpoint: Endpoint, request: Request, input: &dyn std::fmt::Debug) -> (u16, Value) {
    let response = handle(app, endpoint, request).await;
    let status = response.status().as_u16();
    let text = std::str::from_utf8(response.body().as_ref()).expect("a UTF-8 body");
    (status, assert_envelope(status, text, HTTP_REQUEST_ID, input))
}

/// An HTTP fixture as Lambda delivers it, after `edit` changes its event JSON.
fn request_from(fixture: &str, edit: impl FnOnce(&mut Value)) -> Request {
    let mut event: Value = serde_json::from_str(&fixture_json(fixture)).unwrap();
    edit(&mut event);
    lambda_http::request::from_str(&event.to_string()).expect("the edited event is an HTTP event")
}

// ---- list and search: any query string ----

/// One query parameter as a client means it: bytes (any, invalid UTF-8 included) for the name
/// and the value (`None`: the name alone, without `=`).
#[derive(Debug, Clone)]
struct Parameter {
    name: Vec<u8>,
    value: Option<Vec<u8>>,
    literal_brackets: bool,
}

const PARAMETER_NAMES: [&str; 15] = [
    "userId",
    "fullName",
    "deviceId",
    "remoteAddress",
    "online",
    "onlineDate",
    "offlineDate",
    "pageNo",
    "pageSize",
    "pageToken",
    "orderBy",
    "orderSort",
    "infoScope",
    "fullTextSearch",
    "tenantId",
];

const ODD_NAMES: [&str; 12] = [
    "filters[",
    "filters[].key",
    "filters[x].op",
    "filters[-1].key",
    "filters[007].value",
    "filters[99999999999999999999].key",
    "filters[0]",
    "filters[0].",
    "filters[0].KEY",
    "PageNo",
    "tenantid",
    "id",
];

/// Values the contract gives meaning to, and near misses.
const MEANINGFUL_VALUES: [&str; 47] = [
    "id",
    "userId",
    "fullName",
    "userAgent",
    "deviceId",
    "remoteAddress",
    "online",
    "onlineDate",
    "offlineDate",
    "EQUAL",
    "not_equal",
    "GREATER_THAN",
    "GREATER_THAN_EQUAL",
    "LESS_THAN",
    "LESS_THAN_EQUAL",
    "MATCH",
    "MATCH_END",
    "NOT_MATCH",
    "NOT_MATCH_END",
    "IN",
    "NOT_IN",
    "IS_NULL",
    "IS_NOT_NULL",
    "true",
    "FALSE",
    "ASC",
    "desc",
    "DETAIL",
    "basic",
    "0",
    "1",
    "2",
    "-5",
    "2000",
    "2001",
    "100000",
    "100001",
    "9223372036854775807",
    "9223372036854775808",
    "1.5",
    "1e3",
    "2026-11-28",
    "2026-11-28 10:00:00",
    "2026-11-28T10:00:00+01:00",
    "2026-02-30",
    "01JDQ0000000000000000000",
    "1001,,1002, 1003",
];

fn parameter_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => select(PARAMETER_NAMES.to_vec()).prop_map(|n| n.as_bytes().to_vec()),
        3 => (0usize..22, select(vec!["key", "op", "value"])).prop_map(|(i, part)| format!("filters[{i}].{part}").into_bytes()),
        1 => select(ODD_NAMES.to_vec()).prop_map(|n| n.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ]
}

/// Any value: meaningful ones, printable and other text, invalid UTF-8, over-long (10k+ chars)
/// and long comma-separated lists.
fn parameter_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => select(MEANINGFUL_VALUES.to_vec()).prop_map(|v| v.as_bytes().to_vec()),
        2 => "[ -~]{0,24}".prop_map(String::into_bytes),
        1 => "\\PC{0,16}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..24),
        1 => (10_000usize..12_000, select(vec!["a", "9", ",", "%"])).prop_map(|(n, unit)| unit.repeat(n).into_bytes()),
        1 => (2_000usize..3_000).prop_map(|n| "é".repeat(n).into_bytes()),
        1 => (90usize..300).prop_map(|n| (1..=n).map(|i| (1000 + i).to_string()).collect::<Vec<_>>().join(",").into_bytes()),
    ]
}

fn parameter() -> impl Strategy<Value = Parameter> {
    (
        parameter_name(),
        prop::option::weighted(0.95, parameter_value()),
        any::<bool>(),
    )
        .prop_map(|(name, value, literal_brackets)| Parameter {
            name,
            value,
            literal_brackets,
        })
}

/// Longest URI lambda_http can build a request from (the `http` crate's limit); API Gateway
/// refuses far shorter ones (its request line and headers: 10 KB), so no longer query reaches a
/// handler.
const MAX_URI_BYTES: usize = 65_534 - 100;

/// A query: a few parameters, sometimes the first one repeated.
fn query() -> impl Strategy<Value = Vec<Parameter>> {
    (prop::collection::vec(parameter(), 0..12), any::<bool>())
        .prop_map(|(mut parameters, repeat)| {
            if let (true, Some(first)) = (repeat, parameters.first().cloned()) {
                parameters.push(first);
            }
            parameters
        })
        .prop_filter("a URI lambda_http can build", |parameters| {
            raw_query(parameters).len() <= MAX_URI_BYTES
        })
}

fn raw_query(parameters: &[Parameter]) -> String {
    parameters
        .iter()
        .map(|p| {
            let name = percent_encode(&p.name, p.literal_brackets);
            match &p.value {
                Some(value) => format!("{name}={}", percent_encode(value, false)),
                None => name,
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The fields a 400 on `parameters` may blame: a parameter given (a `filters[i].part` as
/// `filters[i]`), the filters as a whole, the query itself (a nameless parameter), or `pageNo`
/// (given with `pageToken`).
fn blamable_fields(parameters: &[Parameter]) -> Vec<String> {
    let mut fields: Vec<String> = ["query", "filters", "pageNo"].map(String::from).to_vec();
    for parameter in parameters {
        let name = String::from_utf8_lossy(&parameter.name).into_owned();
        if let Some(index) = name
            .strip_prefix("filters[")
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(index, _)| index.parse::<usize>().ok())
        {
            fields.push(format!("filters[{index}]"));
        }
        fields.push(name);
    }
    fields
}

fn any_query_is_answered_200_or_a_field_named_4xx(endpoint: Endpoint, fixture: &'static str, cases: u32) {
    check(
        cases,
        (query(), any::<bool>()),
        move |runtime, (parameters, platform)| {
            runtime.block_on(async {
                let app = shared_demo_app().await;
                let raw = raw_query(&parameters);
                let request = request_from(fixture, |event| {
                    event["rawQueryString"] = json!(raw);
                    event["headers"]["authorization"] = json!(bearer(platform));
                });
                let (status, body) = call(&app, endpoint, request, &raw).await;
                let field = body["ext"]["field"].as_str().unwrap_or_default();
                match status {
                    200 => assert!(body["data"]["list"].is_array(), "{raw}: {body}"),
                    400 => assert!(
                        blamable_fields(&parameters).iter().any(|f| f == field),
                        "{raw}: the 400 names `{field}`, not a parameter given: {body}"
                    ),
                    403 => assert!(
                        !platform && field == "tenantId",
                        "{raw}: only another tenant's tenantId is forbidden: {body}"
                    ),
                    other => panic!("{raw}: status {other}: {body}"),
                }
            })
        },
    );
}

/// The demo store that list, search, detail and connect share, made once: only connect writes to
/// it (a session per new connection), and no property counts sessions.
async fn shared_demo_app() -> App {
    static APP: tokio::sync::OnceCell<App> = tokio::sync::OnceCell::const_new();
    APP.get_or_init(demo_app).await.clone()
}

#[test]
fn any_list_query_is_answered_200_or_a_field_named_4xx() {
    any_query_is_answered_200_or_a_field_named_4xx(Endpoint::List, "online-list.json", LIST_CASES);
}

#[test]
fn any_search_query_is_answered_200_or_a_field_named_4xx() {
    any_query_is_answered_200_or_a_field_named_4xx(Endpoint::Search, "online-search.json", LIST_CASES);
}

// ---- detail: any userId ----

fn user_id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[0-9]{1,25}",
        1 => select(vec!["1001", "2001", "0", "-1", "+1001", " 1001", "1001 ", "1e3", "1001.0", "0x3e9", "١٠٠١"]).prop_map(String::from),
        2 => "\\PC{0,24}",
        1 => prop::collection::vec(any::<u8>(), 0..24).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        1 => (10_000usize..12_000).prop_map(|n| "9".repeat(n)),
    ]
}

#[test]
fn any_user_id_is_answered_200_or_a_field_named_4xx() {
    check(
        DETAIL_CASES,
        (user_id_text(), any::<bool>()),
        |runtime, (user_id, platform)| {
            runtime.block_on(async {
                let app = shared_demo_app().await;
                let request = request_from("online-detail.json", |event| {
                    event["rawPath"] = json!(format!("{BASE_PATH}/{}", percent_encode(user_id.as_bytes(), false)));
                    event["pathParameters"]["userId"] = json!(user_id);
                    event["headers"]["authorization"] = json!(bearer(platform));
                });
                let (status, body) = call(&app, Endpoint::Detail, request, &user_id).await;
                // Decimal digits within int64, above zero: the contract's positive int64.
                let positive_id = Some(user_id.as_str())
                    .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|text| text.parse::<i64>().ok())
                    .filter(|n| *n > 0);
                match (status, positive_id) {
                    (200, Some(id)) => assert_eq!(body["data"]["userId"], id.to_string(), "{body}"),
                    (404, Some(_)) => {}
                    (400, None) => assert_eq!(body["ext"]["field"], "userId", "{body}"),
                    other => panic!("{user_id:?}: (status, id) {other:?}: {body}"),
                }
            })
        },
    );
}

// ---- forced offline: any body ----

/// JSON text of any value: scalars of every type (huge and fractional numbers, numeric and other
/// strings), and arrays and objects of them.
fn json_value_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        select(vec![
            "null",
            "true",
            "false",
            "0",
            "-1",
            "1001",
            "1001.0",
            "1e3",
            "1e400",
            "-0",
            "1.5",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551616",
            "\"1001\"",
            "\"\"",
            "\"USER\"",
            "\"TENANT\"",
            "\"tenant\"",
            "\" 1001\"",
            "\"-5\"",
            "\"1e3\"",
            "[]",
            "{}",
        ])
        .prop_map(String::from),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| serde_json::to_string(&n).unwrap()),
        "\\PC{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec(("[a-zA-Z]{1,16}", inner), 0..4).prop_map(|fields| {
                let fields: Vec<String> = fields
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

/// An id list: mostly ids (numbers and numeric strings, in and out of range), with the odd
/// value of another type; up to 100,000 of them, drawn from few or many distinct ids.
fn id_list_text() -> impl Strategy<Value = String> {
    let id = prop_oneof![
        6 => (1000i64..1020).prop_map(|n| n.to_string()),
        3 => (1000i64..1020).prop_map(|n| format!("\"{n}\"")),
        1 => (1i64..4).prop_map(|n| n.to_string()),
        1 => json_value_text(),
    ];
    prop_oneof![
        8 => prop::collection::vec(id, 0..30).prop_map(|ids| format!("[{}]", ids.join(","))),
        1 => (10_000usize..100_001, 1usize..20_000).prop_map(|(count, distinct)| {
            let ids: Vec<String> = (0..count).map(|i| (1 + i % distinct).to_string()).collect();
            format!("[{}]", ids.join(","))
        }),
    ]
}

/// A JSON object with the three fields of any type, each present or not, `receiveObjectType`
/// repeated or not, and sometimes an unknown field.
fn offline_object() -> impl Strategy<Value = String> {
    let object_type = prop_oneof![
        3 => select(vec!["\"USER\"", "\"TENANT\"", "\"user\"", "\"Tenant\"", "\"GROUP\""]).prop_map(String::from),
        1 => json_value_text(),
    ];
    let broadcast = prop_oneof![
        3 => select(vec!["true", "false", "null"]).prop_map(String::from),
        1 => json_value_text(),
    ];
    (
        prop::option::weighted(0.5, broadcast),
        prop::option::weighted(0.9, object_type),
        prop::option::weighted(0.9, prop_oneof![4 => id_list_text(), 1 => json_value_text()]),
        prop::option::weighted(0.1, ("[a-zA-Z]{1,12}", json_value_text())),
        any::<bool>(),
    )
        .prop_map(|(broadcast, object_type, ids, extra, repeat_type)| {
            let mut fields = Vec::new();
            let mut field = |name: &str, value: Option<String>| {
                if let Some(value) = value {
                    fields.push(format!("\"{name}\":{value}"));
                }
            };
            field("broadcast", broadcast);
            field("receiveObjectType", object_type.clone());
            field("receiveObjectIds", ids);
            if repeat_type {
                field("receiveObjectType", object_type);
            }
            if let Some((name, value)) = extra {
                field(&name, Some(value));
            }
            format!("{{{}}}", fields.join(","))
        })
}

/// A body: JSON objects as [`offline_object`] makes them; JSON nested 10,000 deep; truncated
/// JSON; any JSON value; any text; any bytes.
fn offline_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => offline_object().prop_map(String::into_bytes),
        1 => (10_000usize..10_002, select(vec!["[", "{\"a\":", "{\"receiveObjectIds\":["]))
            .prop_map(|(depth, opener)| opener.repeat(depth).into_bytes()),
        1 => (offline_object(), any::<prop::sample::Index>()).prop_map(|(text, cut)| text.as_bytes()[..cut.index(text.len())].to_vec()),
        1 => json_value_text().prop_map(String::into_bytes),
        1 => "\\PC{0,48}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..48),
    ]
}

#[test]
fn any_offline_body_is_answered_200_or_a_field_named_4xx() {
    check(
        OFFLINE_CASES,
        (offline_body(), any::<bool>()),
        |runtime, (body, platform)| {
            runtime.block_on(async {
                // A fresh store each time: a forced offline changes it (and may log the caller out).
                let app = demo_app().await;
                let mut request = request_from("online-off.json", |event| {
                    event["headers"]["authorization"] = json!(bearer(platform));
                });
                *request.body_mut() = Body::Binary(body.clone());
                let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                let (status, answer) = call(&app, Endpoint::Offline, request, &shown).await;
                let field = answer["ext"]["field"].as_str().unwrap_or_default();
                match status {
                    200 => assert!(answer["data"]["skippedIds"].is_array(), "{shown}: {answer}"),
                    400 => {
                        assert!(
                            ["body", "broadcast", "receiveObjectType", "receiveObjectIds"].contains(&field),
                            "{shown}: {answer}"
                        );
                        if serde_json::from_slice::<Value>(&body).is_err() {
                            assert_eq!(field, "body", "{shown}: not JSON, so the body is to blame: {answer}");
                        }
                    }
                    403 => assert!(
                        !platform && field == "receiveObjectIds",
                        "{shown}: only another tenant is forbidden: {answer}"
                    ),
                    other => panic!("{shown}: status {other}: {answer}"),
                }
            })
        },
    );
}

// ---- WebSocket $connect: any token and deviceId ----

fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "\\PC{0,40}",
        1 => "[ -~]{120,140}",
        1 => (10_000usize..12_000).prop_map(|n| "d".repeat(n)),
        1 => prop::collection::vec(any::<u8>(), 0..24).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

#[test]
fn any_connect_query_is_answered_200_or_a_field_named_4xx() {
    let token = prop_oneof![1 => Just(TENANT_ADMIN_TOKEN.to_owned()), 1 => query_value()];
    check(
        CONNECT_CASES,
        (token, prop::option::of(query_value())),
        |runtime, (token, device_id)| {
            runtime.block_on(async {
                let app = shared_demo_app().await;
                let mut event: Value = serde_json::from_str(&fixture_json("ws-connect.json")).unwrap();
                let mut parameters = json!({ "token": token });
                if let Some(device_id) = &device_id {
                    parameters["deviceId"] = json!(device_id);
                }
                event["multiValueQueryStringParameters"] = json!(parameters
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), json!([v])))
                    .collect::<serde_json::Map<_, _>>());
                event["queryStringParameters"] = parameters;
                // A new connection each time, as API Gateway gives.
                let connection = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
                event["requestContext"]["connectionId"] = json!(format!("fuzz-{connection}"));
                let event: ApiGatewayWebsocketProxyRequest = serde_json::from_value(event).unwrap();
                let response: ApiGatewayProxyResponse = ws::handle(&app, WsRoute::Connect, event).await;
                let status = u16::try_from(response.status_code).unwrap();
                let text = match &response.body {
                    Some(EventBody::Text(text)) => text.as_str(),
                    other => panic!("no text body: {other:?}"),
                };
                let input = (&token, &device_id);
                let body = assert_envelope(status, text, WS_REQUEST_ID, &input);
                let device_chars = device_id.as_deref().map_or(0, |d| d.chars().count());
                let expected = if token != TENANT_ADMIN_TOKEN {
                    401
                } else if device_chars > message_center::service::presence::MAX_DEVICE_ID_CHARS {
                    400
                } else {
                    200
                };
                assert_eq!(status, expected, "{input:?}: {body}");
                if status == 400 {
                    assert_eq!(body["ext"]["field"], "deviceId", "{body}");
                }
            })
        },
    );
}
