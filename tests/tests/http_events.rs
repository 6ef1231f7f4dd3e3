//! Every `events/*.json` fixture fed through the handler Lambda runs, as lambda_http deserializes
//! it, on both stores seeded with the demo data; each response checked for its status and envelope.
//! A fixture without a row here fails the suite, so fixtures and tests cannot drift apart.

use std::collections::BTreeSet;
use std::sync::Arc;

use lambda_http::{Body, Response};
use local_api::demo;
use message_center::domain::{Session, Timestamp};
use message_center::http::handle;
use message_center::service::App;
use message_center::store::Store;
use message_center_tests::contract::code_and_key;
use message_center_tests::events::{endpoint_of, http_fixtures, http_request};
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::StoreKind;
use serde_json::Value;

struct Seeded {
    app: App,
    gateway: Arc<RecordingGateway>,
    sessions: Vec<Session>,
}

async fn seeded(store: Arc<dyn Store>) -> Seeded {
    let now = Timestamp::now();
    demo::seed(store.as_ref(), now).await.unwrap();
    let sessions = demo::sessions(now);
    let live = sessions.iter().filter(|s| s.online()).map(|s| s.connection_id.clone());
    let gateway = Arc::new(RecordingGateway::with_live(live));
    Seeded {
        app: App {
            store,
            gateway: gateway.clone(),
            config: Default::default(),
        },
        gateway,
        sessions,
    }
}

async fn invoke(app: &App, fixture: &str) -> (Response<Body>, Value) {
    let response = handle(app, endpoint_of(fixture), http_request(fixture)).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).expect("the body is JSON");
    (response, body)
}

/// The envelope every response wears, and the status, code and `eKey` of this one.
fn assert_envelope(fixture: &str, response: &Response<Body>, body: &Value, status: u16) {
    assert_eq!(response.status(), status, "{fixture}: {body}");
    assert_eq!(response.headers()["content-type"], "application/json", "{fixture}");
    let (code, key) = code_and_key(status).unwrap_or_else(|| panic!("{fixture}: unexpected status {status}"));
    assert_eq!(body["code"], code, "{fixture}");
    assert!(body["msg"].as_str().is_some_and(|m| !m.is_empty()), "{fixture}: msg");
    assert!(
        Timestamp::parse(body["datetime"].as_str().unwrap_or_default()).is_ok(),
        "{fixture}: datetime"
    );
    assert_eq!(
        body["ext"]["requestId"], "JKJaXmPLvHcESHA=",
        "{fixture}: API Gateway's request id"
    );
    assert_eq!(body["ext"].get("eKey").and_then(Value::as_str), key, "{fixture}");
    if status == 401 {
        assert_eq!(response.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
    }
}

fn list_of(body: &Value) -> &Vec<Value> {
    body["data"]["list"].as_array().expect("data.list")
}

fn total_of(body: &Value) -> u64 {
    body["data"]["total"]
        .as_str()
        .expect("total is a string")
        .parse()
        .unwrap()
}

async fn check(seeded: &Seeded, fixture: &str) {
    let (response, body) = invoke(&seeded.app, fixture).await;
    let tenant = |t: i64| seeded.sessions.iter().filter(move |s| s.tenant_id.get() == t);
    match fixture {
        "online-list.json" => {
            assert_envelope(fixture, &response, &body, 200);
            assert_eq!(total_of(&body), tenant(1).filter(|s| s.online()).count() as u64);
            assert_eq!(list_of(&body).len(), 5);
            for record in list_of(&body) {
                assert_eq!(record["online"], true);
                assert!(record.get("tenantId").is_none(), "BASIC has no tenantId");
                assert!(record["userId"].is_string() && record["id"].is_string());
            }
        }
        "online-list-filters.json" => {
            assert_envelope(fixture, &response, &body, 200);
            let records = list_of(&body);
            let expected = tenant(1)
                .filter(|s| [1001, 1002, 1005].contains(&s.user_id.get()))
                .filter(|s| s.device_id.as_deref().unwrap_or_default().starts_with("web"))
                .count();
            assert_eq!(total_of(&body), expected as u64);
            let dates: Vec<&str> = records.iter().map(|r| r["onlineDate"].as_str().unwrap()).collect();
            assert!(dates.windows(2).all(|w| w[0] <= w[1]), "ascending by onlineDate");
            assert!(
                records
                    .iter()
                    .all(|r| r["tenantId"] == "1" && r.get("lastSeenDate").is_some()),
                "DETAIL fields"
            );
        }
        "online-list-platform-tenant.json" => {
            assert_envelope(fixture, &response, &body, 200);
            assert_eq!(total_of(&body), tenant(2).count() as u64);
            assert!(list_of(&body)
                .iter()
                .all(|r| r["userId"].as_str().unwrap().starts_with('2')));
        }
        "online-list-bad-param.json" => {
            assert_envelope(fixture, &response, &body, 400);
            assert_eq!(body["ext"]["field"], "pageSize");
            assert!(body["msg"].as_str().unwrap().contains("1 to 2000"));
        }
        "online-list-bad-filter.json" => {
            assert_envelope(fixture, &response, &body, 400);
            assert_eq!(body["ext"]["field"], "filters[0]");
            assert!(
                body["msg"].as_str().unwrap().contains("MATCH"),
                "the message lists what is allowed"
            );
        }
        "online-list-bad-token.json" => assert_envelope(fixture, &response, &body, 401),
        "online-audit.json" => {
            assert_envelope(fixture, &response, &body, 200);
            assert_eq!(total_of(&body), 0, "no forced offline yet");
            // After one, the admin sees its record.
            handle(
                &seeded.app,
                endpoint_of("online-off.json"),
                http_request("online-off.json"),
            )
            .await;
            let (again, body) = invoke(&seeded.app, fixture).await;
            assert_envelope(fixture, &again, &body, 200);
            assert_eq!(total_of(&body), 1);
            let record = &list_of(&body)[0];
            assert_eq!(
                (record["tenantId"].as_str(), record["targetType"].as_str()),
                (Some("1"), Some("USER"))
            );
            assert_eq!(record["skippedIds"], serde_json::json!(["2001"]));
            assert_eq!(record["requestId"], "JKJaXmPLvHcESHA=", "API Gateway's request id");
        }
        "online-audit-bad-param.json" => {
            assert_envelope(fixture, &response, &body, 400);
            assert_eq!(body["ext"]["field"], "filters[0]");
            assert!(body["msg"].as_str().unwrap().contains("EQUAL, IN"), "what is allowed");
        }
        "online-list-no-permission.json" | "online-off-no-permission.json" | "online-audit-no-permission.json" => {
            assert_envelope(fixture, &response, &body, 403);
            assert!(body["msg"].as_str().unwrap().contains("message:center:"));
        }
        "online-list-other-tenant.json" => {
            assert_envelope(fixture, &response, &body, 403);
            assert_eq!(body["ext"]["field"], "tenantId");
        }
        "online-search.json" => {
            assert_envelope(fixture, &response, &body, 200);
            let expected = tenant(1)
                .filter(|s| s.online() && s.full_name.to_lowercase().contains("ada"))
                .count();
            assert!(expected > 0, "the demo has online Adas");
            assert_eq!(total_of(&body), expected as u64);
        }
        "online-search-past-the-end.json" => {
            assert_envelope(fixture, &response, &body, 200);
            assert!(list_of(&body).is_empty());
            assert!(total_of(&body) > 0, "the true total");
        }
        "online-detail.json" => {
            assert_envelope(fixture, &response, &body, 200);
            let data = &body["data"];
            let own: Vec<&Session> = tenant(1).filter(|s| s.user_id.get() == 1001).collect();
            assert_eq!(
                (data["userId"].as_str(), data["tenantId"].as_str()),
                (Some("1001"), Some("1"))
            );
            assert_eq!(data["onlineSessions"], own.iter().filter(|s| s.online()).count());
            assert_eq!(data["online"], own.iter().any(|s| s.online()));
            assert_eq!(data["sessions"].as_array().unwrap().len(), own.len());
        }
        "online-detail-not-found.json" => assert_envelope(fixture, &response, &body, 404),
        "online-detail-bad-user-id.json" => {
            assert_envelope(fixture, &response, &body, 400);
            assert_eq!(body["ext"]["field"], "userId");
        }
        "online-off.json" => {
            assert_envelope(fixture, &response, &body, 200);
            let targeted: Vec<&Session> = tenant(1)
                .filter(|s| s.online() && [1003, 1005].contains(&s.user_id.get()))
                .collect();
            let data = &body["data"];
            assert_eq!(data["users"], 2);
            assert_eq!(data["sessions"], targeted.len());
            assert_eq!(data["connections"], targeted.len());
            assert_eq!(data["tokens"], 0);
            assert_eq!(
                data["skippedIds"],
                serde_json::json!(["2001"]),
                "another tenant's user is skipped"
            );
            let sent: BTreeSet<String> = seeded.gateway.sent().into_iter().map(|(c, _)| c).collect();
            let closed: BTreeSet<String> = seeded.gateway.closed().into_iter().collect();
            let expected: BTreeSet<String> = targeted.iter().map(|s| s.connection_id.clone()).collect();
            assert_eq!(
                (sent, closed),
                (expected.clone(), expected),
                "broadcast: told, then closed"
            );
        }
        "online-off-tenant.json" => {
            assert_envelope(fixture, &response, &body, 200);
            let data = &body["data"];
            assert_eq!(data["sessions"], tenant(2).filter(|s| s.online()).count());
            assert_eq!(data["tokens"], 1, "the tenant-2 admin's own token");
            assert!(
                seeded.gateway.sent().is_empty(),
                "broadcast false: closed without a notice"
            );
            assert_eq!(seeded.gateway.closed().len(), tenant(2).filter(|s| s.online()).count());
            // The admin logged its own tenant out, itself included: its token is now refused.
            let (again, body) = invoke(&seeded.app, "online-off-tenant.json").await;
            assert_envelope(fixture, &again, &body, 401);
        }
        "online-off-other-tenant.json" => {
            assert_envelope(fixture, &response, &body, 403);
            assert_eq!(body["ext"]["field"], "receiveObjectIds");
        }
        "online-off-bad-body.json" => {
            assert_envelope(fixture, &response, &body, 400);
            assert_eq!(body["ext"]["field"], "receiveObjectType");
            assert!(body["msg"].as_str().unwrap().contains("USER or TENANT"));
        }
        other => panic!("events/{other} has no row in tests/tests/http_events.rs: add one"),
    }
}

async fn every_fixture(kind: StoreKind) {
    let fixtures = http_fixtures();
    assert!(fixtures.len() >= 18, "the fixtures are there");
    // A fresh store each, so a forced offline in one does not change another's answer.
    let runs = fixtures.into_iter().map(|fixture| async move {
        let seeded = seeded(kind.fresh().await).await;
        check(&seeded, &fixture).await;
    });
    futures::future::join_all(runs).await;
}

message_center_tests::both_stores!(each: every_fixture);
