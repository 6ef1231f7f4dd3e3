//! Forced offline of `USER` ids takes one of two paths: a few ids of a large tenant are looked up
//! one by one; many ids (relative to the tenant's online sessions) are reached by reading the
//! tenant once. Both must give the same answer and the same effect; these tests run each path on
//! two identical tenants, on both stores, and compare.

use std::sync::Arc;

use lambda_http::Body;
use message_center::domain::access::{Permission, TenantScope, TokenHash};
use message_center::domain::{OfflineReason, Session, TenantId, UserId};
use message_center::http::{handle, Endpoint, BASE_PATH};
use message_center::service::App;
use message_center::store::{Opened, Store};
use message_center_tests::fixtures::{at, ended, online, token};
use message_center_tests::gateway::RecordingGateway;
use serde_json::{json, Value};

/// Online sessions per tenant: 30, so that 1 id is looked up alone (1 x 20 < 30) and 2 ids read
/// the tenant (2 x 20 >= 30).
const ONLINE_USERS: i64 = 30;

/// Tenant `tenant`: users `base+0..30` online with a token each, user `base+99` with only an
/// ended session, and an admin who may force users offline.
async fn seed_tenant(store: &dyn Store, tenant: i64, base: i64) -> Vec<Session> {
    let mut sessions: Vec<Session> = (0..ONLINE_USERS)
        .map(|n| online(tenant, base + n, "Someone", at(-600 + n)))
        .collect();
    sessions.push(ended(
        tenant,
        base + 99,
        "History",
        at(-900),
        60,
        OfflineReason::Disconnected,
    ));
    for session in &sessions {
        assert!(store.open_session(session, None).await.unwrap() == Opened::Recorded);
    }
    for n in 0..ONLINE_USERS {
        store
            .put_token(&token(&format!("user-{tenant}-{n}"), tenant, base + n, &[], false))
            .await
            .unwrap();
    }
    store
        .put_token(&token(
            &format!("admin-{tenant}"),
            tenant,
            base + 500,
            &[Permission::Offline],
            false,
        ))
        .await
        .unwrap();
    sessions
}

async fn force_users_offline(app: &App, tenant: i64, ids: &[i64]) -> Value {
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("{BASE_PATH}/off"))
        .header("Authorization", format!("Bearer admin-{tenant}"))
        .body(Body::from(
            json!({"receiveObjectType": "USER", "receiveObjectIds": ids}).to_string(),
        ))
        .unwrap();
    let response = handle(app, Endpoint::Offline, request).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(response.status(), 200, "{body}");
    body["data"].clone()
}

async fn both_paths_agree(store: Arc<dyn Store>) {
    // Tenant 1 (users 1000..) takes the one-by-one path, tenant 2 (users 2000..) the tenant read.
    let mut live = seed_tenant(store.as_ref(), 1, 1000).await;
    live.extend(seed_tenant(store.as_ref(), 2, 2000).await);
    let gateway = Arc::new(RecordingGateway::with_live(
        live.iter().filter(|s| s.online()).map(|s| s.connection_id.clone()),
    ));
    let app = App {
        store: store.clone(),
        gateway: gateway.clone(),
        config: Default::default(),
    };

    let one_by_one = force_users_offline(&app, 1, &[1003]).await;
    assert_eq!(
        one_by_one,
        json!({"users": 1, "sessions": 1, "tokens": 1, "connections": 1, "skippedIds": []})
    );
    // The same user in tenant 2, with company: another tenant's user, an unknown id, a user with
    // only history (reached, nothing to end) and an online user.
    let tenant_read = force_users_offline(&app, 2, &[2003, 1004, 777_777, 2099, 2010]).await;
    assert_eq!(
        tenant_read,
        json!({"users": 3, "sessions": 2, "tokens": 2, "connections": 2,
               "skippedIds": ["1004", "777777"]})
    );

    for (secret, revoked) in [
        ("user-1-3", true),
        ("user-1-4", false),
        ("user-2-3", true),
        ("user-2-10", true),
        ("user-2-4", false),
    ] {
        let record = store.token(&TokenHash::of(secret)).await.unwrap().unwrap();
        assert_eq!(record.revoked_at.is_some(), revoked, "{secret}");
    }
    for (tenant, user, online) in [
        (1, 1003, false),
        (1, 1004, true),
        (2, 2003, false),
        (2, 2010, false),
        (2, 2004, true),
    ] {
        let sessions = store
            .user_sessions(TenantScope::Tenant(TenantId(tenant)), UserId(user), 5)
            .await
            .unwrap();
        assert_eq!(sessions[0].online(), online, "user {user}");
    }
    assert_eq!(gateway.closed().len(), 3, "one connection per ended session");

    // A repeat of each changes nothing, on either path.
    assert_eq!(
        force_users_offline(&app, 1, &[1003]).await,
        json!({"users": 1, "sessions": 0, "tokens": 0, "connections": 0, "skippedIds": []})
    );
    assert_eq!(
        force_users_offline(&app, 2, &[2003, 1004, 777_777, 2099, 2010]).await,
        json!({"users": 3, "sessions": 0, "tokens": 0, "connections": 0,
               "skippedIds": ["1004", "777777"]})
    );
}

message_center_tests::both_stores!(both_paths_agree);
