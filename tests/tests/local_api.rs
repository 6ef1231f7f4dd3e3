//! The local API over real HTTP, on both stores: the routes, the envelope on the wire, and the
//! forced-offline effect as a client sees it (the kicked token is refused, the sessions end).

use std::sync::Arc;

use local_api::demo;
use message_center::domain::Timestamp;
use message_center::http::cors::CorsPolicy;
use message_center::store::{MemoryStore, Store};
use serde_json::{json, Value};

const BASE: &str = "/api/v1/message/center/online";

struct Server {
    base_url: String,
}

impl Server {
    async fn start(store: Arc<dyn Store>) -> Server {
        demo::seed(store.as_ref(), Timestamp::now()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(local_api::serve(listener, store, None, std::future::pending()));
        Server {
            base_url: format!("http://{address}"),
        }
    }

    /// The server as `local-api` runs with `CORS_ALLOWED_ORIGINS=<allowed>`.
    async fn start_with_cors(store: Arc<dyn Store>, allowed: &str) -> Server {
        demo::seed(store.as_ref(), Timestamp::now()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let cors = CorsPolicy::from_list(allowed).unwrap();
        tokio::spawn(local_api::serve_with_cors(
            listener,
            store,
            None,
            cors,
            std::future::pending(),
        ));
        Server {
            base_url: format!("http://{address}"),
        }
    }

    /// `(status, CORS headers, body)` of a request with these headers, as a browser sends it; the
    /// CORS headers are every `access-control-*` and `vary` header, in order, names lower case.
    async fn browser(
        &self,
        method: &'static str,
        path: &str,
        headers: &[(&'static str, &str)],
        body: Option<String>,
    ) -> (u16, Vec<(String, String)>, String) {
        let url = format!("{}{path}", self.base_url);
        let headers: Vec<(&'static str, String)> = headers.iter().map(|(n, v)| (*n, v.to_string())).collect();
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
            let mut response = match method {
                "OPTIONS" | "GET" => {
                    let mut request = if method == "GET" {
                        agent.get(&url)
                    } else {
                        agent.options(&url)
                    };
                    for (name, value) in &headers {
                        request = request.header(*name, value);
                    }
                    request.call()
                }
                _ => {
                    let mut request = agent.post(&url).header("Content-Type", "application/json");
                    for (name, value) in &headers {
                        request = request.header(*name, value);
                    }
                    request.send(body.unwrap_or_default())
                }
            }
            .expect("the local API answers");
            let cors = response
                .headers()
                .iter()
                .filter(|(name, _)| name.as_str().starts_with("access-control-") || name.as_str() == "vary")
                .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap().to_owned()))
                .collect();
            let text = response.body_mut().read_to_string().unwrap();
            (response.status().as_u16(), cors, text)
        })
        .await
        .unwrap()
    }

    /// `(status, WWW-Authenticate, body)` of a request; `body` is sent as JSON when given.
    async fn call(
        &self,
        method: &'static str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (u16, Option<String>, Value) {
        let url = format!("{}{path}", self.base_url);
        let token = token.map(|t| format!("Bearer {t}"));
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
            let mut response = match (method, body) {
                ("GET", _) => {
                    let mut request = agent.get(&url);
                    if let Some(token) = &token {
                        request = request.header("Authorization", token);
                    }
                    request.call()
                }
                (_, body) => {
                    let mut request = agent.post(&url).header("Content-Type", "application/json");
                    if let Some(token) = &token {
                        request = request.header("Authorization", token);
                    }
                    request.send(body.unwrap_or_default())
                }
            }
            .expect("the local API answers");
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            let text = response.body_mut().read_to_string().unwrap();
            let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
            (response.status().as_u16(), challenge, body)
        })
        .await
        .unwrap()
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let (status, _, body) = self.call("GET", path, Some(token), None).await;
        (status, body)
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let (status, _, body) = self.call("POST", path, Some(token), Some(body.to_string())).await;
        (status, body)
    }
}

const ADMIN_1: &str = "demo-admin-tenant-1";
const PLATFORM: &str = "demo-platform-operator";

async fn routes_and_errors_over_http(store: Arc<dyn Store>) {
    let server = Server::start(store).await;

    let (status, body) = server.get(&format!("{BASE}?pageSize=3"), ADMIN_1).await;
    assert_eq!((status, body["code"].as_str()), (200, Some("S")));
    assert_eq!(body["data"]["list"].as_array().unwrap().len(), 3);
    let total: u64 = body["data"]["total"].as_str().unwrap().parse().unwrap();

    let (status, past_end) = server.get(&format!("{BASE}?pageNo=1000&pageSize=100"), ADMIN_1).await;
    assert_eq!(status, 200);
    assert_eq!(past_end["data"], json!({"total": total.to_string(), "list": []}));

    let encoded = format!("{BASE}?filters%5B0%5D.key=userId&filters%5B0%5D.op=IN&filters%5B0%5D.value=1001%2C1002");
    let (status, body) = server.get(&encoded, ADMIN_1).await;
    assert_eq!(status, 200);
    assert!(body["data"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["userId"] == "1001" || r["userId"] == "1002"));

    let (status, body) = server.get(&format!("{BASE}/search?fullName=LOVELACE"), ADMIN_1).await;
    assert_eq!(status, 200);
    assert!(body["data"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["fullName"] == "Ada Lovelace"));

    let (status, challenge, body) = server.call("GET", BASE, None, None).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (401, Some("Bearer error=\"invalid_token\""))
    );
    assert_eq!(body["ext"]["eKey"], "unauthorized");

    let (status, body) = server.get(&format!("{BASE}?color=blue"), ADMIN_1).await;
    assert_eq!((status, body["ext"]["field"].as_str()), (400, Some("color")));

    assert_eq!(server.get(&format!("{BASE}/1001"), ADMIN_1).await.0, 200);
    assert_eq!(
        server.get(&format!("{BASE}/2001"), ADMIN_1).await.0,
        404,
        "another tenant's user does not exist"
    );
    let (status, body) = server.get(&format!("{BASE}/-5"), ADMIN_1).await;
    assert_eq!((status, body["ext"]["field"].as_str()), (400, Some("userId")));

    let (status, body) = server.get("/api/v1/nowhere", ADMIN_1).await;
    assert_eq!((status, body["ext"]["eKey"].as_str()), (404, Some("not_found")));

    let (status, _, body) = server
        .call("POST", &format!("{BASE}/off"), Some(ADMIN_1), Some("{not json".into()))
        .await;
    assert_eq!((status, body["ext"]["field"].as_str()), (400, Some("body")));
    let (status, body) = server
        .post(
            &format!("{BASE}/off"),
            ADMIN_1,
            json!({"receiveObjectType": "TENANT", "receiveObjectIds": [2]}),
        )
        .await;
    assert_eq!((status, body["ext"]["eKey"].as_str()), (403, Some("forbidden")));
}

async fn forced_offline_as_a_client_sees_it(store: Arc<dyn Store>) {
    let server = Server::start(store).await;
    let kicked_users_token = "demo-user-no-permissions"; // user 1001 of tenant 1
    assert_eq!(
        server.get(BASE, kicked_users_token).await.0,
        403,
        "a live token without the permission"
    );

    let request = json!({"receiveObjectType": "USER", "receiveObjectIds": ["1001", 1001, 2001]});
    let (status, body) = server.post(&format!("{BASE}/off"), ADMIN_1, request.clone()).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!((data["users"].as_u64(), data["tokens"].as_u64()), (Some(1), Some(1)));
    assert!(data["sessions"].as_u64().unwrap() >= 1, "the demo has 1001 online");
    assert_eq!(data["skippedIds"], json!(["2001"]));

    let (status, challenge, _) = server.call("GET", BASE, Some(kicked_users_token), None).await;
    assert_eq!(
        (status, challenge.is_some()),
        (401, true),
        "the kicked user's token is revoked"
    );

    let (_, detail) = server.get(&format!("{BASE}/1001"), ADMIN_1).await;
    assert_eq!(detail["data"]["online"], false);
    assert_eq!(detail["data"]["onlineSessions"], 0);
    let forced = detail["data"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["offlineReason"] == "FORCED")
        .count();
    assert_eq!(forced as u64, data["sessions"].as_u64().unwrap());

    let (status, again) = server.post(&format!("{BASE}/off"), ADMIN_1, request).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["data"],
        json!({"users": 1, "sessions": 0, "tokens": 0, "connections": 0, "skippedIds": ["2001"]}),
        "idempotent"
    );
}

/// Follows `ext.nextPageToken` through the demo tenant: every session once, in order, the same
/// `total` on each page; a changed token, another listing's or another tenant's is a 400.
async fn page_tokens_walk_a_listing(store: Arc<dyn Store>) {
    let server = Server::start(store).await;
    let (_, whole) = server
        .get(&format!("{BASE}?pageSize=2000&orderBy=fullName"), ADMIN_1)
        .await;
    let everyone: Vec<Value> = whole["data"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert!(everyone.len() > 7, "the demo tenant spans several pages");
    assert!(
        whole["ext"].get("nextPageToken").is_none(),
        "no token after the last page"
    );

    let mut seen = Vec::new();
    let mut path = format!("{BASE}?pageSize=7&orderBy=fullName");
    let mut first_token = None;
    loop {
        let (status, body) = server.get(&path, ADMIN_1).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["total"], whole["data"]["total"]);
        seen.extend(body["data"]["list"].as_array().unwrap().iter().map(|r| r["id"].clone()));
        let Some(token) = body["ext"]["nextPageToken"].as_str() else {
            break;
        };
        first_token.get_or_insert_with(|| token.to_owned());
        path = format!("{BASE}?pageSize=7&orderBy=fullName&pageToken={token}");
    }
    assert_eq!(seen, everyone);

    let token = first_token.unwrap();
    let mut changed = token.clone().into_bytes();
    changed[5] = if changed[5] == b'x' { b'y' } else { b'x' };
    let changed = String::from_utf8(changed).unwrap();
    for (path, caller) in [
        (
            format!("{BASE}?pageSize=7&orderBy=fullName&pageToken={changed}"),
            ADMIN_1,
        ),
        (format!("{BASE}?pageSize=7&orderBy=userId&pageToken={token}"), ADMIN_1),
        (
            format!("{BASE}?pageSize=7&orderBy=fullName&pageToken={token}"),
            "demo-admin-tenant-2",
        ),
        (format!("{BASE}?pageSize=7&orderBy=fullName&pageToken=garbage"), ADMIN_1),
    ] {
        let (status, body) = server.get(&path, caller).await;
        assert_eq!(
            (status, body["ext"]["field"].as_str()),
            (400, Some("pageToken")),
            "{path}"
        );
        assert!(body["data"].is_null());
    }
    let (status, body) = server
        .get(&format!("{BASE}?pageNo=2&pageToken={token}&orderBy=fullName"), ADMIN_1)
        .await;
    assert_eq!((status, body["ext"]["field"].as_str()), (400, Some("pageNo")));
}

const CONSOLE: &str = "https://console.example.com";
const DEV: &str = "http://localhost:5173";

fn pairs(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// The contract's CORS rule as a browser on another origin meets it, with
/// `CORS_ALLOWED_ORIGINS` naming two origins: a preflight from one is a 204 naming the methods and
/// headers; every answer to one, errors included, names it back; another origin, or no `Origin`,
/// gets no CORS header at all, and neither does the WebSocket route.
async fn cors_for_the_allowed_origins(store: Arc<dyn Store>) {
    let server = Server::start_with_cors(store, &format!(" {CONSOLE}, {DEV} ")).await;
    let bearer = format!("Bearer {ADMIN_1}");
    let off = format!("{BASE}/off");
    let kick = json!({"receiveObjectType": "USER", "receiveObjectIds": ["1002"]}).to_string();

    for (origin, path, method, asked_headers) in [
        (DEV, BASE, "GET", "authorization"),
        (CONSOLE, off.as_str(), "POST", "authorization, content-type"),
        (DEV, "/api/v1/nowhere", "GET", "authorization"),
    ] {
        let (status, cors, body) = server
            .browser(
                "OPTIONS",
                path,
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", method),
                    ("Access-Control-Request-Headers", asked_headers),
                ],
                None,
            )
            .await;
        assert_eq!(status, 204, "preflight of {method} {path}");
        assert_eq!(
            cors,
            pairs(&[
                ("access-control-allow-origin", origin),
                ("access-control-allow-methods", "GET, POST, OPTIONS"),
                ("access-control-allow-headers", "authorization, content-type"),
                ("access-control-max-age", "600"),
                ("vary", "Origin"),
            ]),
            "preflight of {method} {path}"
        );
        assert_eq!(body, "");
    }

    let names_dev = pairs(&[("access-control-allow-origin", DEV), ("vary", "Origin")]);
    let (status, cors, body) = server
        .browser(
            "GET",
            &format!("{BASE}?pageSize=2"),
            &[("Origin", DEV), ("Authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!((status, parse(&body)["code"].as_str()), (200, Some("S")));
    assert_eq!(cors, names_dev, "GET list");

    let (status, cors, body) = server.browser("GET", BASE, &[("Origin", DEV)], None).await;
    assert_eq!(
        (status, parse(&body)["ext"]["eKey"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(cors, names_dev, "the 401 envelope of GET list");

    let (status, cors, body) = server
        .browser(
            "POST",
            &off,
            &[("Origin", DEV), ("Authorization", &bearer)],
            Some(kick.clone()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(parse(&body)["data"]["users"], 1);
    assert_eq!(cors, names_dev, "POST off");

    let (status, cors, body) = server
        .browser("POST", &off, &[("Origin", CONSOLE)], Some(kick.clone()))
        .await;
    assert_eq!(
        (status, parse(&body)["ext"]["eKey"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(
        cors,
        pairs(&[("access-control-allow-origin", CONSOLE), ("vary", "Origin")]),
        "the 401 envelope of POST off"
    );

    let (status, cors, body) = server
        .browser(
            "GET",
            "/api/v1/nowhere",
            &[("Origin", DEV), ("Authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!((status, parse(&body)["ext"]["eKey"].as_str()), (404, Some("not_found")));
    assert_eq!(cors, names_dev, "the 404 envelope of a route that does not exist");

    // Other origins, close to the allowed ones, and requests without Origin: no CORS header.
    for origin in [
        "https://evil.example",
        "http://localhost:5174",
        "https://localhost:5173",
        "http://console.example.com",
        "null",
    ] {
        let (status, cors, body) = server
            .browser(
                "OPTIONS",
                BASE,
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "GET"),
                    ("Access-Control-Request-Headers", "authorization"),
                ],
                None,
            )
            .await;
        assert_eq!(
            (status, cors, body),
            (204, vec![], String::new()),
            "preflight from {origin}"
        );

        let (status, cors, _) = server
            .browser("GET", BASE, &[("Origin", origin), ("Authorization", &bearer)], None)
            .await;
        assert_eq!((status, cors), (200, vec![]), "GET list from {origin}");

        let (status, cors, _) = server
            .browser("POST", &off, &[("Origin", origin)], Some(kick.clone()))
            .await;
        assert_eq!((status, cors), (401, vec![]), "POST off from {origin}");
    }
    let (status, cors, _) = server.browser("GET", BASE, &[("Authorization", &bearer)], None).await;
    assert_eq!((status, cors), (200, vec![]), "no Origin");
    let (status, cors, _) = server.browser("GET", BASE, &[], None).await;
    assert_eq!((status, cors), (401, vec![]), "no Origin, no token");

    // The WebSocket route is not the HTTP API: no CORS there.
    let (_, cors, _) = server.browser("GET", "/ws", &[("Origin", DEV)], None).await;
    assert_eq!(cors, vec![], "the WebSocket route");
}

/// Without `CORS_ALLOWED_ORIGINS` no origin gets a CORS header: a preflight is an `OPTIONS`
/// request like any other (a 404 in the envelope, as no route takes `OPTIONS`).
async fn no_cors_without_allowed_origins(store: Arc<dyn Store>) {
    let server = Server::start(store).await;
    let bearer = format!("Bearer {ADMIN_1}");
    for origin in [DEV, CONSOLE, "https://evil.example"] {
        let (status, cors, body) = server
            .browser(
                "OPTIONS",
                BASE,
                &[("Origin", origin), ("Access-Control-Request-Method", "GET")],
                None,
            )
            .await;
        assert_eq!(
            (status, cors, parse(&body)["ext"]["eKey"].as_str()),
            (404, vec![], Some("not_found")),
            "preflight from {origin}"
        );
        let (status, cors, _) = server
            .browser("GET", BASE, &[("Origin", origin), ("Authorization", &bearer)], None)
            .await;
        assert_eq!((status, cors), (200, vec![]), "GET list from {origin}");
        let (status, cors, _) = server.browser("GET", BASE, &[("Origin", origin)], None).await;
        assert_eq!((status, cors), (401, vec![]), "401 to {origin}");
        let (status, cors, _) = server
            .browser("POST", &format!("{BASE}/off"), &[("Origin", origin)], Some("{}".into()))
            .await;
        assert_eq!((status, cors), (401, vec![]), "POST off from {origin}");
    }
}

/// A store that fails (here: tables that do not exist on the DynamoDB server) is a 500 in the
/// envelope, saying nothing of tables, ARNs or the SDK.
#[tokio::test]
async fn a_failing_store_is_a_500_that_leaks_nothing() {
    let client = message_center_tests::dynamodb::client();
    let store = message_center::store::DynamoStore::new(
        client,
        message_center::store::dynamo::schema::TableNames::with_prefix("no-such-tables"),
    );
    let app = message_center::service::App {
        store: Arc::new(store),
        gateway: Arc::new(message_center::gateway::NoConnections),
        config: Default::default(),
    };
    let request = lambda_http::http::Request::builder()
        .uri(BASE)
        .header("authorization", "Bearer demo-admin-tenant-1")
        .body(lambda_http::Body::Empty)
        .unwrap();
    let response = message_center::http::handle(&app, message_center::http::Endpoint::List, request).await;
    assert_eq!(response.status(), 500);
    let text = std::str::from_utf8(response.body().as_ref()).unwrap().to_owned();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (body["code"].as_str(), body["ext"]["eKey"].as_str()),
        (Some("E2"), Some("internal"))
    );
    for leak in [
        "no-such-tables",
        "ResourceNotFound",
        "arn:",
        "dynamodb",
        "demo-admin-tenant-1",
    ] {
        assert!(!text.contains(leak), "the body mentions {leak}: {text}");
    }
}

/// What a schema-driven client sees besides the four routes: the OpenAPI document at
/// `/openapi.json`, a 404 in the envelope for a method a route does not take (API Gateway has no
/// 405), and a 400 on `userId`, in the envelope, for a path id that is not UTF-8.
#[tokio::test]
async fn the_openapi_document_and_the_odd_requests() {
    let server = Server::start(Arc::new(MemoryStore::new())).await;
    let base_url = server.base_url.clone();
    let (document, deleted) = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let text = agent
            .get(format!("{base_url}/openapi.json"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let document: Value = serde_json::from_str(&text).unwrap();
        let mut deleted = agent
            .delete(format!("{base_url}{BASE}/off"))
            .header("Authorization", format!("Bearer {ADMIN_1}"))
            .call()
            .unwrap();
        let status = deleted.status().as_u16();
        let body: Value = serde_json::from_str(&deleted.body_mut().read_to_string().unwrap()).unwrap();
        (document, (status, body))
    })
    .await
    .unwrap();

    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = document["paths"].as_object().unwrap();
    for path in [
        BASE.to_owned(),
        format!("{BASE}/search"),
        format!("{BASE}/{{userId}}"),
        format!("{BASE}/off"),
    ] {
        assert!(paths.contains_key(&path), "openapi.yaml describes {path}");
    }
    assert_eq!((deleted.0, deleted.1["ext"]["eKey"].as_str()), (404, Some("not_found")));

    let (status, body) = server.get(&format!("{BASE}/%FF%FE"), ADMIN_1).await;
    assert_eq!((status, body["ext"]["field"].as_str()), (400, Some("userId")));
}

/// The admin console at `/` (what `cargo run -p local-api` then a browser opens): the page, its
/// script, style and configuration (the WebSocket on this host), each with the console's
/// Content-Security-Policy, revalidated by `ETag`; any other file under `/console/` is the
/// envelope's 404.
#[tokio::test]
async fn the_admin_console_is_served_at_the_root() {
    use message_center::http::console::CONTENT_SECURITY_POLICY;
    let server = Server::start(Arc::new(MemoryStore::new())).await;
    let base_url = server.base_url.clone();
    let answers = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut answers = Vec::new();
        for path in [
            "/",
            "/console/app.js",
            "/console/app.css",
            "/console/config.json",
            "/console/nope.js",
        ] {
            let mut response = agent.get(format!("{base_url}{path}")).call().unwrap();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            let (content_type, csp, etag) = (
                header("content-type"),
                header("content-security-policy"),
                header("etag"),
            );
            let status = response.status().as_u16();
            let body = response.body_mut().read_to_string().unwrap();
            let revalidated = if etag.is_empty() {
                None
            } else {
                let again = agent
                    .get(format!("{base_url}{path}"))
                    .header("If-None-Match", &etag)
                    .call()
                    .unwrap();
                Some(again.status().as_u16())
            };
            answers.push((path, status, content_type, csp, body, revalidated));
        }
        answers
    })
    .await
    .unwrap();

    for (path, status, content_type, csp, body, revalidated) in &answers[..4] {
        assert_eq!(*status, 200, "{path}");
        assert_eq!(csp, CONTENT_SECURITY_POLICY, "{path}");
        assert_eq!(*revalidated, Some(304), "{path}: a current copy is not sent again");
        match *path {
            "/" => {
                assert!(content_type.starts_with("text/html"), "{content_type}");
                assert!(body.contains(r#"<script src="console/app.js" defer></script>"#));
                assert!(body.contains(r#"<link rel="stylesheet" href="console/app.css">"#));
            }
            "/console/app.js" => assert!(content_type.starts_with("text/javascript"), "{content_type}"),
            "/console/app.css" => assert!(content_type.starts_with("text/css"), "{content_type}"),
            _ => assert_eq!(
                serde_json::from_str::<Value>(body).unwrap(),
                json!({"websocketUrl": null})
            ),
        }
    }
    let (_, status, _, _, body, _) = &answers[4];
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!((*status, body["ext"]["eKey"].as_str()), (404, Some("not_found")));
}

/// The demo's clients keep `cargo run -p local-api` lively for the admin console: demo users come
/// online on new devices and demo sessions disconnect (so an open console has live changes to
/// show), about as many stay online as were seeded, and the seeded online sessions heartbeat (so
/// the cleanup does not end them all as stale ten minutes in).
#[tokio::test]
async fn the_demo_clients_come_go_and_heartbeat() {
    use std::time::Duration;
    let started = Timestamp::now().to_string();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let server = Server::start(store.clone()).await;
    let seeded: Vec<_> = demo::sessions(Timestamp::now())
        .into_iter()
        .filter(|session| session.online())
        .collect();
    // The seeded sessions' ids are minted at seeding: read them back.
    let (_, before) = server
        .get(&format!("{BASE}?online=true&pageSize=2000&infoScope=DETAIL"), PLATFORM)
        .await;
    let seeded_online: std::collections::BTreeSet<String> = before["data"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seeded_online.len(), seeded.len());

    let clients = tokio::spawn(demo::run_clients(
        store.clone(),
        Duration::from_millis(20),
        Duration::from_millis(100),
    ));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    clients.abort();

    let (_, after) = server
        .get(&format!("{BASE}?pageSize=2000&infoScope=DETAIL"), PLATFORM)
        .await;
    let sessions = after["data"]["list"].as_array().unwrap();
    let came = sessions
        .iter()
        .filter(|s| {
            !seeded_online.contains(s["id"].as_str().unwrap()) && s["onlineDate"].as_str().unwrap() >= started.as_str()
        })
        .count();
    let went = sessions
        .iter()
        .filter(|s| {
            let id = s["id"].as_str().unwrap();
            let was_online = seeded_online.contains(id) || s["onlineDate"].as_str().unwrap() >= started.as_str();
            s["offlineReason"] == "DISCONNECTED" && was_online
        })
        .count();
    let online: Vec<&Value> = sessions.iter().filter(|s| s["online"] == true).collect();
    assert!(
        came >= 5 && went >= 5,
        "demo users came online {came} times and went offline {went} times"
    );
    assert!(
        online.len().abs_diff(seeded.len()) <= 2,
        "{} online, {} seeded",
        online.len(),
        seeded.len()
    );
    let stale: Vec<&&Value> = online
        .iter()
        .filter(|s| {
            seeded_online.contains(s["id"].as_str().unwrap()) && s["lastSeenDate"].as_str().unwrap() < started.as_str()
        })
        .collect();
    assert!(
        stale.is_empty(),
        "seeded sessions still online without a heartbeat: {stale:?}"
    );
}

message_center_tests::both_stores!(
    cors_for_the_allowed_origins,
    no_cors_without_allowed_origins,
    page_tokens_walk_a_listing,
    routes_and_errors_over_http,
    forced_offline_as_a_client_sees_it
);
