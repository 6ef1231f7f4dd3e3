//! Tokens are secrets: every handler, on its success and on each of its error paths (unknown,
//! revoked, expired and malformed tokens, a store that fails), logs without them, and the store
//! holds only their SHA-256. The same scan runs over every suite's logs afterwards
//! (`infra/scripts/check-secrets.sh`, from `infra/scripts/test.sh`).

use std::sync::Arc;

use lambda_http::{Body, Request};
use message_center::domain::access::{Permission, TokenHash, TokenRecord};
use message_center::http::{handle, Endpoint, BASE_PATH};
use message_center::service::App;
use message_center::store::TokenStore;
use message_center::store::{DynamoStore, Store};
use message_center::ws::{self, WsRoute};
use message_center_tests::dynamodb::{faulty_store, fresh_store};
use message_center_tests::events::ws_event;
use message_center_tests::faults::{Fault, Faults};
use message_center_tests::fixtures::{at, online, token};
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::logs::{capture, captured};

const OPERATOR: &str = "secret-operator-7f3c9a1d";
const ADMIN: &str = "secret-admin-2b8e4f60";
const USER: &str = "secret-user-9d1a5c37";
const REVOKED: &str = "secret-revoked-4e7b2a90";
const EXPIRED: &str = "secret-expired-0c6d8f15";
const UNKNOWN: &str = "secret-unknown-5a3e9b72";
/// Malformed (a space is outside RFC 6750's token characters), yet still a secret.
const MALFORMED: &str = "secret malformed 1f2e3d4c";

fn records() -> Vec<TokenRecord> {
    let all = [Permission::List, Permission::Detail, Permission::Offline];
    let mut revoked = token(REVOKED, 1, 3, &all, false);
    revoked.revoked_at = Some(at(-60));
    let mut expired = token(EXPIRED, 1, 4, &all, false);
    expired.expires_at = Some(at(-60));
    vec![
        token(OPERATOR, 0, 900, &all, true),
        token(ADMIN, 1, 1, &all, false),
        token(USER, 1, 2, &[], false),
        revoked,
        expired,
    ]
}

fn request(method: &str, path_and_query: &str, authorization: &str, body: &str) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("https://api.example.com{BASE_PATH}{path_and_query}"))
        .header("authorization", authorization)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// Every HTTP endpoint and WebSocket route with `secret` as the token, every way it can be sent.
async fn every_handler_with(app: &App, secret: &str) {
    let off = r#"{"receiveObjectType": "USER", "receiveObjectIds": [2]}"#;
    let calls = [
        (Endpoint::List, "GET", "?pageSize=5"),
        (
            Endpoint::Search,
            "GET",
            "/search?filters[0].key=fullName&filters[0].op=LIKE&filters[0].value=a",
        ),
        (Endpoint::Detail, "GET", "/2"),
        (Endpoint::Offline, "POST", "/off"),
    ];
    for (endpoint, method, path) in calls {
        for authorization in [
            format!("Bearer {secret}"),
            format!("bearer  {secret} "),
            secret.to_owned(),
        ] {
            let body = if method == "POST" { off } else { "" };
            handle(app, endpoint, request(method, path, &authorization, body)).await;
        }
    }
    let mut by_query = ws_event("ws-connect.json");
    by_query.query_string_parameters =
        std::collections::HashMap::from([("token".to_owned(), secret.to_owned())]).into();
    by_query.request_context.connection_id = Some(format!("conn-{}", ulid::Ulid::new()));
    ws::handle(app, WsRoute::Connect, by_query).await;
    let mut by_header = ws_event("ws-connect.json");
    by_header.query_string_parameters = Default::default();
    by_header
        .headers
        .insert("authorization", format!("Bearer {secret}").parse().unwrap());
    by_header.request_context.connection_id = Some(format!("conn-{}", ulid::Ulid::new()));
    ws::handle(app, WsRoute::Connect, by_header).await;
}

fn assert_no_secret_logged(logs: &str) {
    for secret in [OPERATOR, ADMIN, USER, REVOKED, EXPIRED, UNKNOWN, MALFORMED] {
        let line = logs.lines().find(|line| line.contains(secret));
        assert!(line.is_none(), "a raw token was logged: {line:?}");
    }
}

async fn no_token_in_logs(store: Arc<dyn Store>, faults: Option<Arc<Faults>>) {
    capture();
    for record in records() {
        store.put_token(&record).await.unwrap();
    }
    store.open_session(&online(1, 2, "Ada", at(-30)), None).await.unwrap();
    let app = App {
        store,
        gateway: Arc::new(RecordingGateway::default()),
        config: Default::default(),
    };
    let before = captured().len();
    if let Some(faults) = &faults {
        faults.inject(1000, &[Fault::ServerError, Fault::Throttled], &[]);
    }
    for secret in [OPERATOR, ADMIN, USER, REVOKED, EXPIRED, UNKNOWN, MALFORMED] {
        every_handler_with(&app, secret).await;
    }
    if let Some(faults) = &faults {
        faults.stop();
    }
    let logs = &captured()[before..];
    // The capture saw the handlers: one request line per call, at least.
    assert!(
        logs.matches("\"request\"").count() >= 7 * 12,
        "the handlers' lines were not captured"
    );
    assert!(logs.matches("\"websocket\"").count() >= 7 * 2);
    if faults.is_some() {
        assert!(
            logs.contains("store unavailable"),
            "the failing store's lines were not captured"
        );
    }
    assert_no_secret_logged(logs);
}

#[tokio::test]
async fn no_handler_logs_a_token_on_the_memory_store() {
    no_token_in_logs(Arc::new(message_center::store::MemoryStore::new()), None).await;
}

#[tokio::test]
async fn no_handler_logs_a_token_on_the_dynamodb_store() {
    no_token_in_logs(Arc::new(fresh_store().await), None).await;
}

#[tokio::test]
async fn no_handler_logs_a_token_when_dynamodb_fails() {
    let faults = Faults::new(21);
    let store = faulty_store(&faults).await;
    no_token_in_logs(Arc::new(store), Some(faults)).await;
}

/// The tokens table holds each token under its SHA-256 and nothing else of it.
#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let store: DynamoStore = fresh_store().await;
    for record in records() {
        store.put_token(&record).await.unwrap();
    }
    let scan = store
        .client()
        .scan()
        .table_name(&store.tables().tokens)
        .send()
        .await
        .unwrap();
    let items = scan.items();
    assert_eq!(items.len(), records().len());
    let stored = format!("{items:?}");
    for secret in [OPERATOR, ADMIN, USER, REVOKED, EXPIRED] {
        assert!(!stored.contains(secret), "a raw token is stored");
        let hash = TokenHash::of(secret);
        assert!(stored.contains(hash.as_str()), "each token is stored by its hash");
    }
    for item in items {
        let key = item["tokenHash"].as_s().unwrap();
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    }
}
