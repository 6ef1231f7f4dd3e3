//! `cargo run --release -p bench -- <figure>`: prints figures measured against a DynamoDB-protocol
//! server (moto; `DYNAMODB_ENDPOINT`, or one started for the run). Figures, not assertions: the
//! tests say what is right, this says what it costs. Items read are what DynamoDB bills for
//! (a query's `ScannedCount`); latency against moto, a Python server, says little about AWS.
//!
//! - `cleanup-cost [sessions] [stale]`: one cleanup run over `sessions` sessions in one tenant
//!   (default 10,000) of which `stale` (default 100) are stale: DynamoDB calls, items read and
//!   written, and the run's time.
//! - `list-cost [sessions ...]`: for a tenant of each size (default 1,000 and 10,000), the cost of
//!   each kind of listing call and of the detail: calls, items read, latency p50/p99.
//! - `off-cost [users]`: a tenant of `users` users (default 10,000), each with one online session
//!   and one token; forced offline of 1 user, of 100 users, then of the whole tenant, through
//!   the handler: calls, items read and written, time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use message_center::api::{handle, App, Endpoint, BASE_PATH};
use message_center::auth::{Permission, TenantScope};
use message_center::cleanup::{run_cleanup, CleanupSettings};
use message_center::domain::{OfflineReason, Position, Session, SessionQuery, TenantId, UserId};
use message_center::gateway::NoConnections;
use message_center::query::{parse_session_query, ListMode};
use message_center::store::{DynamoStore, Store};
use message_center_tests::dynamodb::fresh_store;
use message_center_tests::fixtures::{at, ended, online, token};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("cleanup-cost") => cleanup_cost(number(1, 10_000), number(2, 100)).await,
        Some("list-cost") => {
            let sizes: Vec<usize> = args[1..].iter().filter_map(|a| a.parse().ok()).collect();
            let sizes = if sizes.is_empty() { vec![1_000, 10_000] } else { sizes };
            for size in sizes {
                list_cost(size).await;
            }
        }
        Some("off-cost") => off_cost(number(1, 10_000)).await,
        _ => {
            eprintln!("usage: bench cleanup-cost [sessions] [stale] | list-cost [sessions ...] | off-cost [users]");
            std::process::exit(2);
        }
    }
}

/// Loads `sessions` in bulk and says how long it took.
async fn seed(store: &DynamoStore, sessions: &[Session]) {
    let started = Instant::now();
    store.import_sessions(sessions).await.expect("the seed is written");
    eprintln!(
        "seeded {} sessions in {:.1} s",
        sessions.len(),
        started.elapsed().as_secs_f64()
    );
}

async fn cleanup_cost(total: usize, stale: usize) {
    let store = fresh_store().await;
    let sessions: Vec<Session> = (0..total)
        .map(|n| {
            let mut session = online(1, 100_000 + (n % 5_000) as i64, "Bench", at(-7200 + (n % 3600) as i64));
            // The first `stale` were last seen 20 minutes ago; the rest within the minute.
            session.last_seen_date = if n < stale { at(-1200) } else { at(-((n % 60) as i64)) };
            session
        })
        .collect();
    seed(&store, &sessions).await;

    let app = App {
        store: Arc::new(store.clone()),
        gateway: Arc::new(NoConnections),
    };
    let before = store.usage();
    let report = run_cleanup(
        &app,
        &CleanupSettings::default(),
        at(0),
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .expect("the cleanup runs");
    let cost = store.usage() - before;
    println!(
        "{}",
        serde_json::json!({"figure": "cleanup-cost", "sessions": total, "stale": stale,
        "staleEnded": report.stale_ended, "sessionsDeleted": report.sessions_deleted,
        "calls": cost.calls, "itemsRead": cost.items_read, "itemsWritten": cost.items_written,
        "durationMs": report.duration_ms})
    );
}

/// One tenant of `total` sessions over the last `total` minutes (a third online), 500 users.
fn tenant_of(total: usize) -> Vec<Session> {
    let names = [
        "Ada Lovelace",
        "Grace Hopper",
        "Alan Turing",
        "Edsger Dijkstra",
        "Barbara Liskov",
    ];
    (0..total)
        .map(|n| {
            let user = 10_000 + (n % 500) as i64;
            let name = names[n % names.len()];
            // Distinct milliseconds, newest last.
            let started = at(-(total as i64) * 60).plus_secs(n as i64 * 60);
            if n % 3 == 0 {
                online(1, user, name, started)
            } else {
                ended(1, user, name, started, 30, OfflineReason::Disconnected)
            }
        })
        .collect()
}

async fn list_cost(total: usize) {
    let store = fresh_store().await;
    seed(&store, &tenant_of(total)).await;
    let scope = TenantScope::Tenant(TenantId(1));
    let query = |text: &str| parse_session_query(text, ListMode::List).expect("a valid query");
    // The position after page 9 of the default listing, as a page token would carry it.
    let page_9 = store.list_sessions(scope, &query("pageNo=9")).await.unwrap();
    let after_page_9 = Position::of(page_9.sessions.last().unwrap(), query("").order_by);
    let cursor_page = SessionQuery {
        after: Some(after_page_9),
        ..query("")
    };
    let listings: Vec<(&str, SessionQuery)> = vec![
        ("default list, page 1 of 10", query("")),
        ("default list, page 10 of 10", query("pageNo=10")),
        ("page 10 by pageToken", cursor_page),
        ("online=true, page 1", query("online=true")),
        ("online=false, page 1", query("online=false")),
        (
            "onlineDate in the last hour, page 1",
            query(&format!(
                "filters[0].key=onlineDate&filters[0].op=GREATER_THAN_EQUAL&filters[0].value={}",
                at(-3600).to_string().replace(' ', "%20")
            )),
        ),
        ("orderBy=fullName, page 1", query("orderBy=fullName")),
        ("userId=10007, page 1", query("userId=10007")),
        (
            "search fullName=ada, page 1",
            parse_session_query("fullName=ada", ListMode::Search).unwrap(),
        ),
    ];
    for (name, listing) in &listings {
        measure(&store, total, name, || async {
            store.list_sessions(scope, listing).await.map(|_| ())
        })
        .await;
    }
    measure(&store, total, "detail of one user", || async {
        store.user_sessions(scope, UserId(10_007), 50).await.map(|_| ())
    })
    .await;
}

/// Runs `call` 20 times and prints its DynamoDB cost (per call) and latency.
async fn measure<F, Fut>(store: &DynamoStore, total: usize, name: &str, call: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), message_center::error::StoreError>>,
{
    const RUNS: u64 = 20;
    let before = store.usage();
    let mut latencies = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        call().await.expect("the call succeeds");
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let cost = store.usage() - before;
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "{}",
        serde_json::json!({"figure": "call-cost", "sessions": total, "call": name,
        "calls": cost.calls / RUNS, "itemsRead": cost.items_read / RUNS,
        "p50Ms": (percentile(0.5) * 10.0).round() / 10.0, "p99Ms": (percentile(0.99) * 10.0).round() / 10.0})
    );
}

async fn off_cost(users: usize) {
    let store = fresh_store().await;
    let first_user = 100_000i64;
    let sessions: Vec<Session> = (0..users)
        .map(|n| online(1, first_user + n as i64, "Bench", at(-600).plus_secs(n as i64 % 600)))
        .collect();
    seed(&store, &sessions).await;
    let started = Instant::now();
    let admin = token("bench-admin", 1, 1, &[Permission::Offline], false);
    store.put_token(&admin).await.unwrap();
    futures::stream::iter(0..users)
        .for_each_concurrent(16, |n| {
            let store = &store;
            async move {
                let record = token(&format!("bench-{n}"), 1, first_user + n as i64, &[], false);
                store.put_token(&record).await.expect("the token is stored");
            }
        })
        .await;
    eprintln!("stored {users} tokens in {:.1} s", started.elapsed().as_secs_f64());

    let app = App {
        store: Arc::new(store.clone()),
        gateway: Arc::new(NoConnections),
    };
    let ids = |from: usize, count: usize| (from..from + count).map(|n| first_user + n as i64).collect::<Vec<_>>();
    let cases = [
        (
            "off 1 user (USER)",
            serde_json::json!({"receiveObjectType": "USER", "receiveObjectIds": ids(0, 1)}),
        ),
        (
            "off 100 users (USER)",
            serde_json::json!({"receiveObjectType": "USER", "receiveObjectIds": ids(1, 100)}),
        ),
        (
            "off the whole tenant (TENANT)",
            serde_json::json!({"receiveObjectType": "TENANT", "receiveObjectIds": [1]}),
        ),
    ];
    for (name, body) in cases {
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("{BASE_PATH}/off"))
            .header("Authorization", "Bearer bench-admin")
            .header("Content-Type", "application/json")
            .body(lambda_http::Body::from(body.to_string()))
            .expect("a request");
        let before = store.usage();
        let started = Instant::now();
        let response = handle(&app, Endpoint::Offline, request).await;
        let elapsed = started.elapsed();
        let cost = store.usage() - before;
        let answer: serde_json::Value = serde_json::from_slice(response.body().as_ref()).expect("JSON");
        assert_eq!(response.status(), 200, "{answer}");
        println!(
            "{}",
            serde_json::json!({"figure": "off-cost", "tenantUsers": users, "call": name,
            "data": answer["data"], "calls": cost.calls, "itemsRead": cost.items_read,
            "itemsWritten": cost.items_written, "ms": elapsed.as_millis() as u64})
        );
    }
}
