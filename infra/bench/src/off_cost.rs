//! `off-cost [users] [--round-trips]`: three tenants of `users` users (default 10,000), each user
//! with one online session and one token (`--round-trips`: the third alone, for the second part).
//!
//! - Through the handler, as the Lambda function runs it: forced offline of 1 user, of 100 users,
//!   of every user by id (`USER`; tenant 1), and of the whole of tenant 2 (`TENANT`): calls, items
//!   read and written, time. The calls' time budget is lifted (moto is slower than it allows).
//! - Round trips of latency, on tenant 3: 100 ids forced offline by the store's steps in the order
//!   the service runs them for `USER` ids of a large tenant (`force_offline`: the counters that
//!   choose the path, then `force_users`: find the users, revoke their tokens, read their online
//!   sessions, end them), each step timed, with the strict proxy adding no latency and then a
//!   fixed [`LATENCIES_MS`] to every DynamoDB request (`latencyMs`, waited concurrently, as a
//!   network round trip is); the same through the handler.
//!   A step's round trips are how much longer it takes per added latency: `(time at 2L - time at
//!   L) / L`. moto answers one request at a time, so a step's requests also queue there (seconds
//!   for 100 index queries): with latencies longer than that queue, the queue adds the same time at
//!   either latency and the difference is the latency alone. Each run forces another 100 users.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use message_center::domain::access::{Permission, TenantScope};
use message_center::domain::{OfflineReason, Session, TenantId, Timestamp, UserId};
use message_center::gateway::NoConnections;
use message_center::http::{handle, Endpoint, BASE_PATH};
use message_center::service::App;
use message_center::store::{DynamoStore, OfflineStore, SessionStore, Store, TokenStore};
use message_center_tests::dynamodb::fresh_store;
use message_center_tests::fixtures::{at, online, token};

use crate::seed;

/// The latencies added per request for the round-trip count, after a run without. Longer than
/// moto's own time for one step (it answers one request at a time, and a step's 100 concurrent
/// queries each walk a whole index there: seconds), so that moto's queue does not hide them.
const LATENCIES_MS: [u64; 2] = [10_000, 20_000];
/// Ids per forced offline in the round-trip count.
const IDS: usize = 100;

fn first_user(tenant: i64) -> i64 {
    tenant * 1_000_000
}

pub async fn off_cost(users: usize, only_round_trips: bool) {
    let store = fresh_store().await;
    let tenants: &[i64] = if only_round_trips { &[3] } else { &[1, 2, 3] };
    for &tenant in tenants {
        let sessions: Vec<Session> = (0..users)
            .map(|n| {
                online(
                    tenant,
                    first_user(tenant) + n as i64,
                    "Bench",
                    at(-600).plus_secs(n as i64 % 600),
                )
            })
            .collect();
        seed(&store, &sessions).await;
        let started = Instant::now();
        let admin = token(
            &format!("bench-admin-{tenant}"),
            tenant,
            1,
            &[Permission::Offline],
            false,
        );
        store.put_token(&admin).await.unwrap();
        futures::stream::iter(0..users)
            .for_each_concurrent(16, |n| {
                let store = &store;
                async move {
                    let user = first_user(tenant) + n as i64;
                    let record = token(&format!("bench-{user}"), tenant, user, &[], false);
                    store.put_token(&record).await.expect("the token is stored");
                }
            })
            .await;
        eprintln!("stored {users} tokens in {:.1} s", started.elapsed().as_secs_f64());
    }

    // The time budget lifted: against moto, whose every index query walks the whole index, 100
    // ids of these tenants take longer than the 25 s a call has before it answers "unfinished".
    let app = App {
        store: Arc::new(store.clone()),
        gateway: Arc::new(NoConnections),
        config: message_center::service::Config {
            offline_budget: std::time::Duration::from_secs(3600),
            ..Default::default()
        },
    };
    let ids = |tenant: i64, from: usize, count: usize| {
        (from..from + count)
            .map(|n| first_user(tenant) + n as i64)
            .collect::<Vec<_>>()
    };
    let cases = [
        (
            "off 1 user (USER)",
            1,
            serde_json::json!({"receiveObjectType": "USER", "receiveObjectIds": ids(1, 0, 1)}),
        ),
        (
            "off 100 users (USER)",
            1,
            serde_json::json!({"receiveObjectType": "USER", "receiveObjectIds": ids(1, 1, 100)}),
        ),
        (
            "off every user of the tenant by id (USER)",
            1,
            serde_json::json!({"receiveObjectType": "USER", "receiveObjectIds": ids(1, 0, users)}),
        ),
        (
            "off the whole tenant (TENANT)",
            2,
            serde_json::json!({"receiveObjectType": "TENANT", "receiveObjectIds": [2]}),
        ),
    ];
    for (name, tenant, body) in cases.into_iter().filter(|_| !only_round_trips) {
        let (cost, ms, data) = through_handler(&app, &store, tenant, &body).await;
        println!(
            "{}",
            serde_json::json!({"figure": "off-cost", "tenantUsers": users, "call": name,
            "data": data, "calls": cost.calls, "itemsRead": cost.items_read,
            "itemsWritten": cost.items_written, "ms": ms})
        );
    }

    round_trips(&app, &store, users).await;
}

/// One forced offline through the handler: its cost, milliseconds and answer's `data`.
async fn through_handler(
    app: &App,
    store: &DynamoStore,
    tenant: i64,
    body: &serde_json::Value,
) -> (message_center::store::UsageSnapshot, u64, serde_json::Value) {
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("{BASE_PATH}/off"))
        .header("Authorization", format!("Bearer bench-admin-{tenant}"))
        .header("Content-Type", "application/json")
        .body(lambda_http::Body::from(body.to_string()))
        .expect("a request");
    let before = store.usage();
    let started = Instant::now();
    let response = handle(app, Endpoint::Offline, request).await;
    let elapsed = started.elapsed();
    let cost = store.usage() - before;
    let answer: serde_json::Value = serde_json::from_slice(response.body().as_ref()).expect("JSON");
    assert_eq!(response.status(), 200, "{answer}");
    let mut data = answer["data"].clone();
    if let Some(skipped) = data.get_mut("skippedIds") {
        *skipped = serde_json::json!(skipped.as_array().map_or(0, Vec::len));
    }
    (cost, elapsed.as_millis() as u64, data)
}

/// One step at one added latency: (latency ms, step ms, calls).
type Timed = (u64, f64, u64);

/// The steps of a forced offline of [`IDS`] users of tenant 3, timed at each added latency.
async fn round_trips(app: &App, store: &DynamoStore, users: usize) {
    const TENANT: i64 = 3;
    let scope = TenantScope::Tenant(TenantId(TENANT));
    let latencies: Vec<u64> = std::iter::once(0).chain(LATENCIES_MS).collect();
    let mut steps: BTreeMap<usize, (&str, Vec<Timed>)> = BTreeMap::new();
    let mut next_user = 0;
    for latency in &latencies {
        set_latency(store, *latency);
        let ids: Vec<UserId> = (next_user..next_user + IDS)
            .map(|n| UserId(first_user(TENANT) + n as i64))
            .collect();
        next_user += IDS;
        assert!(next_user <= users, "{users} users are enough for the round-trip runs");
        let now = Timestamp::now();
        let mut timed = Vec::new();
        let mut step = |name: &'static str, started: Instant, before: message_center::store::UsageSnapshot| {
            let calls = (store.usage() - before).calls;
            timed.push((name, started.elapsed().as_secs_f64() * 1000.0, calls));
        };
        // As `force_offline` runs a `USER` target of a tenant admin: the counters choose the path
        // (100 ids x 20 < 10,000 online: per user), then `force_users`.
        let (started, before) = (Instant::now(), store.usage());
        let counts = store.session_counts(scope).await.expect("the counts");
        assert!((IDS as u64) * 20 < counts.online, "the per-user path: {counts:?}");
        step("counters (choose the path)", started, before);
        let (started, before) = (Instant::now(), store.usage());
        let found = store.find_users(scope, &ids).await.expect("the users");
        assert_eq!(found.len(), IDS);
        step("find the users", started, before);
        let (started, before) = (Instant::now(), store.usage());
        let revoked = store.revoke_user_tokens(&found, now).await.expect("the revocation");
        assert_eq!(revoked, IDS as u64);
        step("revoke their tokens", started, before);
        let (started, before) = (Instant::now(), store.usage());
        let sessions = store.online_sessions_of_users(&found).await.expect("the sessions");
        assert_eq!(sessions.len(), IDS);
        step("read their online sessions", started, before);
        let (started, before) = (Instant::now(), store.usage());
        let ended = store
            .end_sessions(&sessions, now, OfflineReason::Forced)
            .await
            .expect("the end");
        assert_eq!(ended.len(), IDS);
        step("end the sessions", started, before);

        // The same, whole, through the handler, on the next 100 users.
        let body = serde_json::json!({"receiveObjectType": "USER",
            "receiveObjectIds": (next_user..next_user + IDS).map(|n| first_user(TENANT) + n as i64).collect::<Vec<_>>()});
        next_user += IDS;
        let (cost, ms, _) = through_handler(app, store, TENANT, &body).await;
        timed.push(("whole call, through the handler", ms as f64, cost.calls));

        for (i, (name, ms, calls)) in timed.into_iter().enumerate() {
            steps
                .entry(i)
                .or_insert((name, Vec::new()))
                .1
                .push((*latency, ms, calls));
        }
    }
    set_latency(store, 0);
    for (name, runs) in steps.values() {
        let ms: BTreeMap<u64, f64> = runs
            .iter()
            .map(|(latency, ms, _)| (*latency, (ms * 10.0).round() / 10.0))
            .collect();
        let (l1, l2) = (LATENCIES_MS[0], LATENCIES_MS[1]);
        let round_trips = (ms[&l2] - ms[&l1]) / (l2 - l1) as f64;
        let round_trips_vs_none = (ms[&l1] - ms[&0]) / l1 as f64;
        println!(
            "{}",
            serde_json::json!({"figure": "off-round-trips", "tenantUsers": users, "ids": IDS, "step": name,
            "calls": runs[0].2, "msByLatencyMs": ms,
            "roundTrips": (round_trips * 100.0).round() / 100.0,
            "roundTripsAgainstNoLatency": (round_trips_vs_none * 100.0).round() / 100.0})
        );
    }
}

/// Sets the strict proxy's added latency for this store's tables.
fn set_latency(store: &DynamoStore, latency_ms: u64) {
    let prefix = store.tables().sessions.trim_end_matches("-sessions").to_owned();
    let body = serde_json::json!({"tablePrefix": prefix, "latencyMs": latency_ms}).to_string();
    let endpoint = message_center_tests::dynamodb::endpoint();
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).expect("the strict proxy answers");
    write!(
        stream,
        "POST /strict/config HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("a request to the strict proxy");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("the strict proxy's answer");
    assert!(
        answer.contains("\"ok\": true"),
        "the strict proxy took the latency: {answer}"
    );
}
