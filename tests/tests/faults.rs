//! The service under injected faults ([`message_center_tests::faults`]): DynamoDB throttling, 5xx
//! answers, answers lost after the write was applied, unprocessed batch items, and connections
//! API Gateway reports gone. What callers rely on: nothing is lost or applied twice (the counters
//! equal the sessions, each session ends once, for the reason that ended it), a call whose retries
//! run out is a 503 `E3`/`throttled` with `Retry-After`, and repeating it completes the work.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body as EventBody;
use lambda_http::{Body, Request, Response};
use message_center::domain::access::{Permission, TenantScope, TokenHash};
use message_center::domain::{OfflineReason, Session, TenantId, Timestamp, UserId};
use message_center::gateway::{ApiGatewayConnections, ConnectionGateway, Delivery};
use message_center::http::{handle, Endpoint, BASE_PATH};
use message_center::service::App;
use message_center::store::{DynamoStore, Opened, Store};
use message_center::store::{SessionStore, TokenStore};
use message_center::ws::{self, WsRoute};
use message_center_tests::dynamodb::{endpoint, faulty_store};
use message_center_tests::events::fixture_json;
use message_center_tests::faults::{Fault, Faults};
use message_center_tests::fixtures::{at, online, token};
use message_center_tests::gateway::RecordingGateway;
use serde_json::{json, Value};

const TENANT_1: i64 = 1;
const TENANT_2: i64 = 2;
const ADMIN_1: &str = "fault-admin-tenant-1";
const OPERATOR: &str = "fault-platform-operator";
/// Users 1..=6 are tenant 1's, 7..=12 tenant 2's.
const USERS: std::ops::RangeInclusive<i64> = 1..=12;
/// Attempts a test client makes before it gives up on a call (each a full SDK retry cycle).
const PATIENCE: usize = 40;

fn tenant_of(user: i64) -> i64 {
    if user <= 6 {
        TENANT_1
    } else {
        TENANT_2
    }
}

fn user_token(user: i64) -> String {
    format!("fault-user-{user}")
}

/// The tokens of the scenario, stored without faults.
async fn seed_tokens(store: &dyn Store) {
    let off = [Permission::List, Permission::Detail, Permission::Offline];
    store
        .put_token(&token(ADMIN_1, TENANT_1, 900, &off, false))
        .await
        .unwrap();
    store.put_token(&token(OPERATOR, 0, 901, &off, true)).await.unwrap();
    for user in USERS {
        store
            .put_token(&token(&user_token(user), tenant_of(user), user, &[], false))
            .await
            .unwrap();
    }
}

fn ws_event(
    route: WsRoute,
    connection: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut event: Value = serde_json::from_str(&fixture_json("ws-connect.json")).unwrap();
    event["requestContext"]["connectionId"] = json!(connection);
    event["requestContext"]["routeKey"] = json!(route.key());
    event["requestContext"]["eventType"] = json!(match route {
        WsRoute::Connect => "CONNECT",
        WsRoute::Disconnect => "DISCONNECT",
        WsRoute::Default => "MESSAGE",
    });
    event["queryStringParameters"] = match token {
        Some(token) => json!({ "token": token }),
        None => Value::Null,
    };
    event["multiValueQueryStringParameters"] = match token {
        Some(token) => json!({ "token": [token] }),
        None => Value::Null,
    };
    event["body"] = body.map_or(Value::Null, |b| json!(b));
    serde_json::from_value(event).expect("a WebSocket event")
}

fn ws_body(response: &ApiGatewayProxyResponse) -> Value {
    match &response.body {
        Some(EventBody::Text(text)) => serde_json::from_str(text).expect("a JSON body"),
        other => panic!("no text body: {other:?}"),
    }
}

fn off_request(token: &str, body: Value) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("https://api.example.com{BASE_PATH}/off"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn list_request(token: &str, query: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!("https://api.example.com{BASE_PATH}?{query}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::Empty)
        .unwrap()
}

fn envelope(response: &Response<Body>) -> Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("a JSON envelope"),
        other => panic!("not a text body: {other:?}"),
    }
}

/// Asserts a refusal is the contract's "busy, retry" answer, never a 500.
fn assert_retry_later(status: u16, body: &Value, retry_after: Option<&str>) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "E3", "{body}");
    assert_eq!(body["ext"]["eKey"], "throttled", "{body}");
    assert_eq!(retry_after, Some("1"));
}

/// Calls an HTTP endpoint until it is not a 503, checking each 503 on the way; the answer and
/// how many 503s came first.
async fn until_done(app: &App, endpoint: Endpoint, request: impl Fn() -> Request) -> (Value, usize) {
    for refused in 0..PATIENCE {
        let response = handle(app, endpoint, request()).await;
        let status = response.status().as_u16();
        let body = envelope(&response);
        if status != 503 {
            assert_eq!(status, 200, "{body}");
            return (body, refused);
        }
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok());
        assert_retry_later(status, &body, retry_after);
    }
    panic!("{endpoint:?} never completed in {PATIENCE} attempts");
}

/// A 503 from a WebSocket route, checked as the contract's "retry later".
fn assert_ws_retry_later(response: &ApiGatewayProxyResponse) {
    let retry_after = response.headers.get("retry-after").and_then(|v| v.to_str().ok());
    assert_retry_later(response.status_code as u16, &ws_body(response), retry_after);
}

/// What the clients of the scenario saw.
#[derive(Default)]
struct Outcomes {
    /// `(user, device)` → the connection whose `$connect` was accepted.
    accepted: BTreeMap<(i64, u8), String>,
    /// Connections whose `$connect` got a 503: the client connected again with a new id. Their
    /// session may have been recorded (the write landed, its answer did not), as an orphan
    /// online session that the stale-session cleanup ends, since no heartbeat ever comes.
    refused: BTreeSet<String>,
    /// 503s answered, by route, all with `E3`/`throttled` and `Retry-After`.
    unavailable: BTreeMap<&'static str, usize>,
}

/// Connects device `device` of `user`, as a client does: on a 503 it opens a new connection.
async fn connect(app: &App, user: i64, device: u8, outcomes: &tokio::sync::Mutex<Outcomes>) {
    for attempt in 0..PATIENCE {
        let connection = format!("conn-{user}-{device}-{attempt}");
        let event = ws_event(WsRoute::Connect, &connection, Some(&user_token(user)), None);
        let response = ws::handle(app, WsRoute::Connect, event).await;
        let mut outcomes = outcomes.lock().await;
        if response.status_code == 200 {
            outcomes.accepted.insert((user, device), connection);
            return;
        }
        assert_ws_retry_later(&response);
        outcomes.refused.insert(connection);
        *outcomes.unavailable.entry("$connect").or_default() += 1;
    }
    panic!("user {user} device {device} never connected");
}

/// A heartbeat until acknowledged; the service must never tell a live session it has ended.
async fn heartbeat(app: &App, connection: &str, outcomes: &tokio::sync::Mutex<Outcomes>) {
    for _ in 0..PATIENCE {
        let event = ws_event(WsRoute::Default, connection, None, Some(r#"{"action":"heartbeat"}"#));
        let answer = ws_body(&ws::handle(app, WsRoute::Default, event).await);
        if answer["type"] == "HEARTBEAT_ACK" {
            return;
        }
        let msg = answer["msg"].as_str().unwrap_or_default();
        assert!(msg.contains("retry"), "a heartbeat under faults was answered {answer}");
        *outcomes.lock().await.unavailable.entry("$default").or_default() += 1;
    }
    panic!("the heartbeat on {connection} was never acknowledged");
}

/// A `$disconnect`, repeated on a 503 (API Gateway does not repeat it: the stale-session cleanup
/// would end the session later; here the repeat shows the route is safe to run again).
async fn disconnect(app: &App, connection: &str, outcomes: &tokio::sync::Mutex<Outcomes>) {
    for _ in 0..PATIENCE {
        let event = ws_event(WsRoute::Disconnect, connection, None, None);
        let response = ws::handle(app, WsRoute::Disconnect, event).await;
        if response.status_code == 200 {
            return;
        }
        assert_ws_retry_later(&response);
        *outcomes.lock().await.unavailable.entry("$disconnect").or_default() += 1;
    }
    panic!("the disconnect of {connection} never completed");
}

/// Every session of the store, by connection id, read without faults.
async fn sessions_by_connection(store: &dyn Store) -> BTreeMap<String, Session> {
    let mut all = BTreeMap::new();
    for user in USERS {
        let scope = TenantScope::Tenant(TenantId(tenant_of(user)));
        for session in store.user_sessions(scope, UserId(user), 1000).await.unwrap() {
            assert!(
                all.insert(session.connection_id.clone(), session).is_none(),
                "one session per connection"
            );
        }
    }
    all
}

/// Connect, heartbeat, disconnect and forced offline from many clients at once while `faults`
/// fails a share of the requests; then, without faults, the state must be exactly what the
/// clients were told.
async fn a_day_under_faults(per_mille: u64, kinds: &[Fault], seed: u64) {
    let faults = Faults::new(seed);
    let store: Arc<DynamoStore> = Arc::new(faulty_store(&faults).await);
    seed_tokens(store.as_ref()).await;
    let gateway = Arc::new(RecordingGateway::default());
    let app = App {
        store: store.clone(),
        gateway: gateway.clone(),
        config: Default::default(),
    };
    let outcomes = tokio::sync::Mutex::new(Outcomes::default());
    faults.inject(per_mille, kinds, &[]);

    // Every user on two devices, all at once.
    let connects = USERS.flat_map(|user| [1, 2].map(|device| (user, device)));
    futures::future::join_all(connects.map(|(user, device)| connect(&app, user, device, &outcomes))).await;
    let accepted = outcomes.lock().await.accepted.clone();
    futures::future::join_all(accepted.values().map(|c| heartbeat(&app, c, &outcomes))).await;
    // Device 1 of everyone leaves.
    futures::future::join_all(
        accepted
            .iter()
            .filter(|((_, device), _)| *device == 1)
            .map(|(_, c)| disconnect(&app, c, &outcomes)),
    )
    .await;
    // Users 1 and 2 are forced offline by their admin, tenant 2 by the platform.
    let users_off = until_done(&app, Endpoint::Offline, || {
        off_request(
            ADMIN_1,
            json!({"receiveObjectType": "USER", "receiveObjectIds": [1, 2], "broadcast": false}),
        )
    });
    let tenant_off = until_done(&app, Endpoint::Offline, || {
        off_request(
            OPERATOR,
            json!({"receiveObjectType": "TENANT", "receiveObjectIds": [TENANT_2], "broadcast": false}),
        )
    });
    let ((users_off, users_off_refused), (tenant_off, tenant_off_refused)) = futures::join!(users_off, tenant_off);
    faults.stop();

    let outcomes = outcomes.into_inner();
    let sessions = sessions_by_connection(store.as_ref()).await;
    for ((user, device), connection) in &outcomes.accepted {
        let session = &sessions[connection];
        let expected = if *device == 1 {
            Some(OfflineReason::Disconnected)
        } else if *user <= 2 || tenant_of(*user) == TENANT_2 {
            Some(OfflineReason::Forced)
        } else {
            None
        };
        assert_eq!(
            session.offline_reason, expected,
            "user {user} device {device}: {session:?}"
        );
        assert_eq!(session.online(), expected.is_none());
    }
    for (connection, session) in &sessions {
        let known = outcomes.accepted.values().any(|c| c == connection);
        assert!(
            known || outcomes.refused.contains(connection),
            "a session no client was told of: {session:?}"
        );
    }
    // Landed once: each tenant's counters are exactly its sessions.
    for tenant in [TENANT_1, TENANT_2] {
        let scope = TenantScope::Tenant(TenantId(tenant));
        let of_tenant: Vec<&Session> = sessions.values().filter(|s| s.tenant_id == TenantId(tenant)).collect();
        let counts = store.session_counts(scope).await.unwrap();
        assert_eq!(
            counts.sessions,
            of_tenant.len() as u64,
            "tenant {tenant}'s session counter"
        );
        assert_eq!(
            counts.online,
            of_tenant.iter().filter(|s| s.online()).count() as u64,
            "tenant {tenant}'s online counter"
        );
    }
    // Forced offline: every session it ended counted once across the repeats of the call, every
    // token of the users revoked, no one else's.
    let forced = |tenant: i64| {
        sessions
            .values()
            .filter(|s| s.tenant_id == TenantId(tenant) && s.offline_reason == Some(OfflineReason::Forced))
            .count() as u64
    };
    if users_off_refused == 0 {
        assert_eq!(users_off["data"]["sessions"], forced(TENANT_1), "{users_off}");
        assert_eq!(users_off["data"]["tokens"], 2, "{users_off}");
    }
    if tenant_off_refused == 0 {
        assert_eq!(tenant_off["data"]["sessions"], forced(TENANT_2), "{tenant_off}");
        assert_eq!(tenant_off["data"]["tokens"], 6, "{tenant_off}");
    }
    for user in USERS {
        let record = store.token(&TokenHash::of(&user_token(user))).await.unwrap().unwrap();
        let forced_off = user <= 2 || tenant_of(user) == TENANT_2;
        assert_eq!(record.revoked_at.is_some(), forced_off, "user {user}'s token");
    }
    // Orphans of refused connects: no heartbeat reaches them, so the cleanup ends them.
    let app_without_faults = App {
        store: store.clone(),
        gateway,
        config: Default::default(),
    };
    let settings = message_center::service::cleanup::CleanupSettings {
        stale_after_secs: 0,
        retention_days: 30,
        batch: 100,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let report =
        message_center_tests::run_cleanup(&app_without_faults, &settings, Timestamp::now().plus_secs(1), deadline)
            .await
            .unwrap();
    let orphans = sessions
        .values()
        .filter(|s| s.online() && outcomes.refused.contains(&s.connection_id))
        .count();
    assert_eq!(
        report.stale_ended as usize,
        orphans + 4,
        "the 4 live sessions of users 3-6 and the orphans"
    );

    let injected = faults.injected();
    eprintln!(
        "faults: {} requests, injected {injected:?}; 503s answered: {:?}, off {users_off_refused} + {tenant_off_refused}; orphans {orphans}",
        faults.requests(),
        outcomes.unavailable
    );
    assert!(faults.total_injected() > 0, "the scenario ran without a fault");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_is_retried_and_every_write_lands_once() {
    a_day_under_faults(200, &[Fault::Throttled], 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_errors_are_retried_and_every_write_lands_once() {
    a_day_under_faults(200, &[Fault::ServerError], 11).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answers_lost_after_the_write_land_it_once() {
    a_day_under_faults(250, &[Fault::LostResponse], 13).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_at_once_at_a_high_rate() {
    a_day_under_faults(450, &[Fault::Throttled, Fault::ServerError, Fault::LostResponse], 17).await;
}

/// When DynamoDB stays throttled or failing through every retry, each endpoint answers 503 with
/// `E3`/`throttled` and `Retry-After`, never a 500, and the same call completes once it recovers.
#[tokio::test]
async fn exhausted_retries_are_a_503_and_the_repeat_completes() {
    for fault in [Fault::Throttled, Fault::ServerError] {
        let faults = Faults::new(3);
        let store = Arc::new(faulty_store(&faults).await);
        seed_tokens(store.as_ref()).await;
        for user in [1, 2] {
            let session = online(TENANT_1, user, "Ada", at(-60));
            assert_eq!(store.open_session(&session, None).await.unwrap(), Opened::Recorded);
        }
        let app = App {
            store: store.clone(),
            gateway: Arc::new(RecordingGateway::default()),
            config: Default::default(),
        };
        let off = || {
            off_request(
                ADMIN_1,
                json!({"receiveObjectType": "USER", "receiveObjectIds": [1, 2]}),
            )
        };

        // Reads fail: the caller's token cannot even be checked.
        faults.inject(1000, &[fault], &["GetItem"]);
        let response = handle(&app, Endpoint::List, list_request(ADMIN_1, "pageSize=5")).await;
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok());
        assert_retry_later(response.status().as_u16(), &envelope(&response), retry_after);
        // Listing queries fail.
        faults.inject(1000, &[fault], &["Query"]);
        let response = handle(&app, Endpoint::List, list_request(ADMIN_1, "pageSize=5")).await;
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok());
        assert_retry_later(response.status().as_u16(), &envelope(&response), retry_after);
        // Writes fail: the forced offline is refused, and a `$connect` too.
        faults.inject(1000, &[fault], &["TransactWriteItems"]);
        let response = handle(&app, Endpoint::Offline, off()).await;
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok());
        assert_retry_later(response.status().as_u16(), &envelope(&response), retry_after);
        let refused = ws::handle(
            &app,
            WsRoute::Connect,
            ws_event(WsRoute::Connect, "conn-refused", Some(&user_token(3)), None),
        )
        .await;
        assert_ws_retry_later(&refused);

        // Recovered: the repeat completes what the refused call began (tokens revoked before
        // the writes failed stay revoked; the sessions end now).
        faults.stop();
        let (done, refused) = until_done(&app, Endpoint::Offline, off).await;
        assert_eq!(refused, 0);
        assert_eq!(done["data"]["users"], 2, "{done}");
        assert_eq!(done["data"]["sessions"], 2, "{done}");
        let scope = TenantScope::Tenant(TenantId(TENANT_1));
        let counts = store.session_counts(scope).await.unwrap();
        assert_eq!((counts.sessions, counts.online), (2, 0));
        for user in [1, 2] {
            let record = store.token(&TokenHash::of(&user_token(user))).await.unwrap().unwrap();
            assert!(record.revoked_at.is_some(), "user {user}'s token is revoked");
        }
        let (listed, _) = until_done(&app, Endpoint::List, || list_request(ADMIN_1, "pageSize=5")).await;
        assert_eq!(listed["data"]["total"], "2", "{listed}");
        assert!(faults.total_injected() >= 4, "{:?}", faults.injected());
    }
}

/// Demo data and benchmarks load sessions with BatchWriteItem: unprocessed items are sent again
/// until none is left, and each lands once.
#[tokio::test]
async fn unprocessed_batch_items_are_written_once() {
    let faults = Faults::new(5);
    let store = faulty_store(&faults).await;
    faults.inject(600, &[Fault::Unprocessed], &["BatchWriteItem"]);
    let sessions: Vec<Session> = (0..120)
        .map(|i| online(TENANT_1, 1 + i % 6, "Grace", at(-3600 + i)))
        .collect();
    store.import_sessions(&sessions).await.unwrap();
    faults.stop();
    assert!(faults.injected()[&Fault::Unprocessed] > 0);
    let all = sessions_by_connection(&store).await;
    assert_eq!(all.len(), 120);
    let counts = store
        .session_counts(TenantScope::Tenant(TenantId(TENANT_1)))
        .await
        .unwrap();
    assert_eq!((counts.sessions, counts.online), (120, 120));
}

/// The API Gateway Management API (moto's) behind faults: a connection it reports gone
/// (`GoneException`) is not an error and not counted as closed; the forced offline still ends
/// every session and answers 200.
#[tokio::test]
async fn gone_connections_do_not_fail_a_forced_offline() {
    let store = Arc::new(message_center_tests::dynamodb::fresh_store().await);
    seed_tokens(store.as_ref()).await;
    let sessions: Vec<Session> = (0..20)
        .map(|i| online(TENANT_1, 1 + i % 6, "Linus", at(-100 + i)))
        .collect();
    for session in &sessions {
        assert!(store.open_session(session, None).await.unwrap() == Opened::Recorded);
    }
    let faults = Faults::new(9);
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"),
        ))
        .http_client(faults.http_client(message_center::lambda::aws::http_client()))
        .build();
    let gateway = Arc::new(ApiGatewayConnections::new(&config, endpoint()));
    // The gateway itself: gone is a delivery outcome, not an error.
    faults.inject(1000, &[Fault::Gone], &[]);
    assert_eq!(gateway.close("conn-gone").await.unwrap(), Delivery::Gone);
    assert_eq!(gateway.send("conn-gone", "{}").await.unwrap(), Delivery::Gone);
    faults.stop();
    assert_eq!(gateway.close("conn-live").await.unwrap(), Delivery::Delivered);

    faults.inject(500, &[Fault::Gone], &[]);
    let app = App {
        store: store.clone(),
        gateway,
        config: Default::default(),
    };
    let (done, _) = until_done(&app, Endpoint::Offline, || {
        off_request(
            ADMIN_1,
            json!({"receiveObjectType": "USER", "receiveObjectIds": [1, 2, 3, 4, 5, 6], "broadcast": true}),
        )
    })
    .await;
    faults.stop();
    assert_eq!(done["data"]["sessions"], 20, "{done}");
    let connections = done["data"]["connections"].as_u64().unwrap();
    let gone = faults.injected().get(&Fault::Gone).copied().unwrap_or_default();
    assert!(gone > 0, "no connection was reported gone");
    assert!(
        connections < 20,
        "connections reported gone are not counted as closed: {done}"
    );
    let counts = store
        .session_counts(TenantScope::Tenant(TenantId(TENANT_1)))
        .await
        .unwrap();
    assert_eq!((counts.sessions, counts.online), (20, 0));
}
