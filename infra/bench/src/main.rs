//! `cargo run --release -p bench -- <figure>`: prints figures measured against a DynamoDB-protocol
//! server (moto; `DYNAMODB_ENDPOINT`, or one started for the run). Figures, not assertions: the
//! tests say what is right, this says what it costs.
//!
//! - `cleanup-cost [sessions] [stale]`: one cleanup run over `sessions` sessions in one tenant
//!   (default 10,000) of which `stale` (default 100) are stale: DynamoDB calls, items read and
//!   written, and the run's time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use message_center::api::App;
use message_center::cleanup::{run_cleanup, CleanupSettings};
use message_center::domain::Session;
use message_center::gateway::NoConnections;
use message_center::store::{DynamoStore, Store};
use message_center_tests::dynamodb::fresh_store;
use message_center_tests::fixtures::{at, online};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("cleanup-cost") => cleanup_cost(number(1, 10_000), number(2, 100)).await,
        _ => {
            eprintln!("usage: bench cleanup-cost [sessions] [stale]");
            std::process::exit(2);
        }
    }
}

/// Opens `sessions` in one tenant, 16 at a time, as connects would.
async fn seed(store: &DynamoStore, sessions: Vec<Session>) {
    futures::stream::iter(sessions)
        .for_each_concurrent(16, |session| async move {
            store.open_session(&session).await.expect("the seed is written");
        })
        .await;
}

async fn cleanup_cost(total: usize, stale: usize) {
    let store = fresh_store().await;
    let started = Instant::now();
    let sessions: Vec<Session> = (0..total)
        .map(|n| {
            let mut session = online(1, 100_000 + (n % 5_000) as i64, "Bench", at(-7200 + (n % 3600) as i64));
            // The first `stale` were last seen 20 minutes ago; the rest within the minute.
            session.last_seen_date = if n < stale { at(-1200) } else { at(-((n % 60) as i64)) };
            session
        })
        .collect();
    seed(&store, sessions).await;
    println!(
        "seeded {total} sessions ({stale} stale) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

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
        "cleanup run: {} stale ended, {} sessions deleted, {} tokens deleted in {} ms",
        report.stale_ended, report.sessions_deleted, report.tokens_deleted, report.duration_ms
    );
    println!(
        "DynamoDB: {} calls, {} items read, {} items written (transaction actions, counters included)",
        cost.calls, cost.items_read, cost.items_written
    );
    println!(
        "{}",
        serde_json::json!({"figure": "cleanup-cost", "sessions": total, "stale": stale,
        "calls": cost.calls, "itemsRead": cost.items_read, "itemsWritten": cost.items_written,
        "durationMs": report.duration_ms})
    );
}
