//! A forced offline too large for its time budget (API Gateway cuts an HTTP integration off at
//! 30 s) stops starting batches, answers 202 with what it did and a `msg` that says to repeat it,
//! and a repeat finishes the work. This file is its own test process: it sets
//! `OFFLINE_TIME_BUDGET_SECONDS` to a millisecond, so every forced offline here runs out at once.

use std::sync::Arc;
use std::time::Duration;

use message_center::domain::access::{Permission, TenantScope};
use message_center::domain::budget::Budget;
use message_center::domain::TenantId;
use message_center::http::{handle, Endpoint};
use message_center::service::{App, Config};
use message_center::store::SessionStore;
use message_center::store::{Opened, Store};
use message_center_tests::events::offline_request;
use message_center_tests::fixtures::{at, online, token};
use message_center_tests::gateway::RecordingGateway;
use serde_json::Value;

async fn seed(store: &dyn Store, tenant: i64) {
    store
        .put_token(&token("budget-admin-6d0c", tenant, 1, &[Permission::Offline], false))
        .await
        .unwrap();
    for user in 100..160 {
        store
            .put_token(&token(&format!("budget-user-{user}-a3"), tenant, user, &[], false))
            .await
            .unwrap();
        let session = online(tenant, user, "Budget", at(-60));
        assert_eq!(store.open_session(&session, None).await.unwrap(), Opened::Recorded);
    }
}

fn force_tenant(tenant: i64) -> lambda_http::Request {
    let body = format!(r#"{{"receiveObjectType": "TENANT", "receiveObjectIds": ["{tenant}"]}}"#);
    offline_request("budget-admin-6d0c", &body)
}

#[tokio::test]
async fn a_forced_offline_past_its_budget_answers_202_and_a_repeat_finishes_it() {
    let store = Arc::new(message_center_tests::dynamodb::fresh_store().await);
    seed(store.as_ref(), 91).await;
    let app = App {
        store: store.clone(),
        gateway: Arc::new(RecordingGateway::default()),
        // `OFFLINE_TIME_BUDGET_SECONDS=0.001`, as the configuration reads it.
        config: Config::from_vars(|name| (name == "OFFLINE_TIME_BUDGET_SECONDS").then(|| "0.001".to_owned())),
    };
    let response = handle(&app, Endpoint::Offline, force_tenant(91)).await;
    assert_eq!(response.status(), 202);
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["code"], "S");
    assert!(body["msg"].as_str().unwrap().contains("Repeat the same call"));
    assert_eq!(
        (body["data"]["tokens"].as_u64(), body["data"]["sessions"].as_u64()),
        (Some(0), Some(0))
    );
    let tenant = TenantScope::Tenant(TenantId(91));
    assert_eq!(
        store.session_counts(tenant).await.unwrap().online,
        60,
        "no batch was started"
    );

    // The same call, with the time it needs, finishes the work.
    let roomy = Budget::new(Duration::from_secs(60));
    let done = roomy
        .run(message_center::service::offline::force_tenant(
            store.as_ref(),
            TenantId(91),
            None,
            at(0),
        ))
        .await
        .unwrap();
    assert!(!roomy.was_cut());
    assert_eq!((done.tokens, done.ended.len()), (61, 60));
    assert_eq!(store.session_counts(tenant).await.unwrap().online, 0);
}

#[tokio::test]
async fn the_memory_store_never_runs_out() {
    let store = Arc::new(message_center::store::MemoryStore::new());
    seed(store.as_ref(), 92).await;
    let app = App {
        store: store.clone(),
        gateway: Arc::new(RecordingGateway::default()),
        config: Config {
            offline_budget: std::time::Duration::from_millis(1),
            ..Config::default()
        },
    };
    let response = handle(&app, Endpoint::Offline, force_tenant(92)).await;
    assert_eq!(response.status(), 200, "one lock, no batches: nothing to cut");
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(
        (body["data"]["tokens"].as_u64(), body["data"]["sessions"].as_u64()),
        (Some(61), Some(60))
    );
}
