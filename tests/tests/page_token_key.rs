//! What the page-token key guards, and what it does not. `PAGE_TOKEN_KEY` reaches the functions as
//! an environment variable (docs/performance.md, "The page-token key", says why), so whoever may
//! read a function's configuration can sign page tokens. These cases pin down why that is
//! acceptable: a token signed with the right key still reaches only the presenting caller's own
//! scope, because the scope comes from the caller's bearer token on every call, never from the page
//! token; the key only keeps callers from handing the service cursors it did not make.

use std::sync::Arc;

use lambda_http::{Body, Request};
use message_center::domain::access::{Permission, TenantScope};
use message_center::domain::order::Position;
use message_center::domain::page_token::{self, PageTokenKey};
use message_center::domain::{OrderBy, Session, TenantId};
use message_center::http::query::{parse_session_query, ListMode};
use message_center::http::{handle, Endpoint, BASE_PATH};
use message_center::service::App;
use message_center::store::Store;
use message_center_tests::fixtures::{at, online, token};
use message_center_tests::gateway::RecordingGateway;
use serde_json::Value;

const ADMIN_A: &str = "page-key-admin-a-3c1f";
const TENANT_A: i64 = 41;
const TENANT_B: i64 = 42;
/// The key an outsider read from the function's configuration.
const KNOWN_KEY: &[u8] = b"the-key-anyone-with-GetFunctionConfiguration-reads";
/// Tenant A's users (tenant B's are 200 to 202).
const USERS_OF_A: std::ops::Range<i64> = 100..103;
/// The list call whose cursor is forged (its default order: `onlineDate`, newest first).
const QUERY: &str = "pageSize=2";

async fn world(store: Arc<dyn Store>) -> (App, Vec<Session>) {
    let sessions: Vec<Session> = USERS_OF_A
        .map(|user| online(TENANT_A, user, "Ann Alpha", at(-400 + user)))
        .chain((0..3).map(|n| online(TENANT_B, 200 + n, "Bo Beta", at(-200 + n))))
        .collect();
    for session in &sessions {
        store.open_session(session, None).await.unwrap();
    }
    let permissions = [Permission::List, Permission::Detail];
    store
        .put_token(&token(ADMIN_A, TENANT_A, 1, &permissions, false))
        .await
        .unwrap();
    let mut app = App::new(store, Arc::new(RecordingGateway::default()));
    app.config.page_token_key = Arc::new(PageTokenKey::new(KNOWN_KEY));
    (app, sessions)
}

async fn list_as_admin_a(app: &App, page_token: &str) -> (u16, Value) {
    let request: Request = lambda_http::http::Request::builder()
        .uri(format!(
            "https://api.example.com{BASE_PATH}?{QUERY}&pageToken={page_token}"
        ))
        .header("authorization", format!("Bearer {ADMIN_A}"))
        .body(Body::Empty)
        .unwrap();
    let response = handle(app, Endpoint::List, request).await;
    let status = response.status().as_u16();
    (status, serde_json::from_slice(response.body().as_ref()).unwrap())
}

/// The users of the page (ids as the contract writes them: strings of digits).
fn users_listed(body: &Value) -> Vec<i64> {
    body["data"]["list"]
        .as_array()
        .expect("a page of records")
        .iter()
        .map(|record| record["userId"].as_str().expect("a userId").parse().unwrap())
        .collect()
}

/// A cursor signed with the known key for the caller's own query and scope, positioned at
/// tenant B's newest session: the service takes it as genuine, and still lists only
/// tenant A's sessions (those older than the position), never tenant B's.
async fn a_forged_position_stays_in_the_callers_tenant(store: Arc<dyn Store>) {
    let (app, sessions) = world(store).await;
    let query = parse_session_query(QUERY, ListMode::List).unwrap();
    let newest_of_b = sessions
        .iter()
        .filter(|s| s.tenant_id == TenantId(TENANT_B))
        .max_by_key(|s| s.online_date)
        .unwrap();
    // Tenant B's two older sessions come next after it, were the cursor to choose the tenant.
    let position = Position::of(newest_of_b, OrderBy::OnlineDate);
    let forged = page_token::encode(
        &PageTokenKey::new(KNOWN_KEY),
        &query,
        TenantScope::Tenant(TenantId(TENANT_A)),
        position,
    );
    let (status, body) = list_as_admin_a(&app, &forged).await;
    assert_eq!(status, 200, "signed with the right key, the cursor is taken: {body}");
    let listed = users_listed(&body);
    assert!(
        !listed.is_empty(),
        "tenant A's older sessions follow the position: {body}"
    );
    assert!(
        listed.iter().all(|user| USERS_OF_A.contains(user)),
        "only the caller's tenant: {body}"
    );
}

/// A cursor signed with the known key for tenant B's scope, presented by tenant A's admin: the
/// scope is the caller's, so the cursor belongs to another listing, a 400 on `pageToken`.
async fn a_cursor_signed_for_another_tenant_is_refused(store: Arc<dyn Store>) {
    let (app, sessions) = world(store).await;
    let query = parse_session_query(QUERY, ListMode::List).unwrap();
    let of_b = sessions.iter().find(|s| s.tenant_id == TenantId(TENANT_B)).unwrap();
    let forged = page_token::encode(
        &PageTokenKey::new(KNOWN_KEY),
        &query,
        TenantScope::Tenant(TenantId(TENANT_B)),
        Position::of(of_b, OrderBy::OnlineDate),
    );
    let (status, body) = list_as_admin_a(&app, &forged).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["msg"].as_str().unwrap().contains("pageToken"), "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "nothing listed: {body}");
}

message_center_tests::both_stores!(
    a_forged_position_stays_in_the_callers_tenant,
    a_cursor_signed_for_another_tenant_is_refused
);
