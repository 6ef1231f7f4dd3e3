//! The `events/*.json` fixtures (API Gateway HTTP and WebSocket events, the cleanup's schedule
//! event), read as Lambda reads them.

use std::path::PathBuf;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_http::Request;
use message_center::http::Endpoint;

/// The repository's `events/` folder.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// The fixtures of one function: `<function>.json` and `<function>-<case>.json`, sorted.
pub fn fixtures_of(function: &str) -> Vec<String> {
    all_fixtures()
        .into_iter()
        .filter(|name| name == &format!("{function}.json") || name.starts_with(&format!("{function}-")))
        .collect()
}

/// The HTTP API fixtures (of `online-list`, `online-search`, `online-detail`, `online-off`,
/// `online-audit`), sorted.
pub fn http_fixtures() -> Vec<String> {
    let mut names: Vec<String> = [
        "online-list",
        "online-search",
        "online-detail",
        "online-off",
        "online-audit",
    ]
    .into_iter()
    .flat_map(fixtures_of)
    .collect();
    names.sort();
    names
}

/// The WebSocket API fixtures (`ws-*.json`), sorted.
pub fn ws_fixtures() -> Vec<String> {
    all_fixtures()
        .into_iter()
        .filter(|name| name.starts_with("ws-"))
        .collect()
}

/// A WebSocket fixture, deserialized as lambda_runtime deserializes the event.
pub fn ws_event(name: &str) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_str(&fixture_json(name)).unwrap_or_else(|e| panic!("events/{name} is not a WebSocket event: {e}"))
}

/// A WebSocket event on `connection_id` from a client at a documentation address: `query` is the
/// `$connect` query (`token`, `deviceId`), `body` a message's text.
pub fn ws_event_on(connection_id: &str, query: &[(&str, &str)], body: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    crate::logs::capture();
    let mut event = ApiGatewayWebsocketProxyRequest::default();
    event.request_context.connection_id = Some(connection_id.to_owned());
    event.request_context.identity.source_ip = Some("198.51.100.7".into());
    event.query_string_parameters = query
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect::<std::collections::HashMap<String, String>>()
        .into();
    event.body = body.map(str::to_owned);
    event
}

/// A `POST .../off` request as API Gateway hands it to the handler: `token` as the bearer, `body`
/// as the JSON body.
pub fn offline_request(token: &str, body: &str) -> Request {
    use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE};
    crate::logs::capture();
    let mut request = Request::new(lambda_http::Body::Text(body.to_owned()));
    *request.method_mut() = lambda_http::http::Method::POST;
    *request.uri_mut() = format!("https://api.example.com{}/off", message_center::http::BASE_PATH)
        .parse()
        .expect("a valid URI");
    let headers = request.headers_mut();
    headers.insert(
        AUTHORIZATION,
        format!("Bearer {token}").parse().expect("a header value"),
    );
    headers.insert(CONTENT_TYPE, "application/json".parse().expect("a header value"));
    request
}

/// Every fixture file name, sorted.
pub fn all_fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .expect("events/ exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// The raw JSON of a fixture. A suite that feeds fixtures to the handlers has its logs captured
/// from here on ([`crate::logs`]).
pub fn fixture_json(name: &str) -> String {
    crate::logs::capture();
    std::fs::read_to_string(events_dir().join(name)).unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// A fixture deserialized exactly as lambda_http deserializes an invocation.
pub fn http_request(name: &str) -> Request {
    lambda_http::request::from_str(&fixture_json(name))
        .unwrap_or_else(|e| panic!("events/{name} is not an HTTP event: {e}"))
}

/// The endpoint an HTTP fixture's `routeKey` names.
pub fn endpoint_of(name: &str) -> Endpoint {
    let event: serde_json::Value = serde_json::from_str(&fixture_json(name)).unwrap();
    match event["routeKey"].as_str().unwrap_or_default() {
        "GET /api/v1/message/center/online" => Endpoint::List,
        "GET /api/v1/message/center/online/search" => Endpoint::Search,
        "GET /api/v1/message/center/online/{userId}" => Endpoint::Detail,
        "POST /api/v1/message/center/online/off" => Endpoint::Offline,
        "GET /api/v1/message/center/online/audit" => Endpoint::Audit,
        other => panic!("events/{name}: unknown route {other}"),
    }
}
