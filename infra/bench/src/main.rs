//! `cargo run --release -p bench -- <figure>`: prints figures measured against a DynamoDB-protocol
//! server (moto; `DYNAMODB_ENDPOINT`, or one started for the run). Figures, not assertions: the
//! tests say what is right, this says what it costs. Items read are what DynamoDB bills for
//! (a query's `ScannedCount`); latency against moto, a Python server, says little about AWS.
//!
//! - `cleanup-cost [sessions] [stale]`: one cleanup run over `sessions` sessions in one tenant
//!   (default 10,000) of which `stale` (default 100) are stale: DynamoDB calls, items read and
//!   written, and the run's time.
//! - `list-cost [--server moto|dynalite] [--no-scans] [sessions ...]`: for a tenant of each size
//!   (default 1,000 and 100,000; loaded in bulk, [`bulk`]), the cost of each kind of listing call
//!   and of the detail: calls, items read, latency p50/p99; refusals past the read budget with what
//!   they read ([`list_cost`]; the servers: [`servers`]).
//! - `off-cost [users] [--round-trips]`: three tenants of `users` users (default 10,000), each user with one online
//!   session and one token; forced offline, through the handler, of 1 user, of 100 users, of every
//!   user by id (`USER`), and of another tenant (`TENANT`): calls, items read and written, time;
//!   and the round trips of latency each step of a forced offline of 100 ids takes ([`off_cost`]).
//! - `lambda-cost [binaries] [invocations]`: each release function binary (default
//!   `target/release`) run as Lambda runs it, under [`runtime_api`], on demo data in moto: size;
//!   over 10 new processes, the median init time (exec to its first request for work) and cold
//!   start (exec to its first response), also for an event answered without DynamoDB; warm latency
//!   p50/p99 over `invocations` (default 50); peak resident memory after them.
//! - `heartbeat-under-load [sessions]`: the local API in process on the memory store with
//!   `sessions` sessions in one tenant (default 100,000): WebSocket heartbeat p50/p99/max without
//!   and during 20 concurrent clients running the heaviest listings the read budget allows, and
//!   listings completed per second ([`heartbeat`]).
//! - `presence [clients] [--only memory|dynamodb|cost]`: presence events' delivery latency on the
//!   local API (memory store; DynamoDB on moto through its stream) to 3 subscribers while `clients`
//!   (default 200) connect and close at once, with missing and duplicated events; and the cost per
//!   event on the AWS path (DynamoDB reads, pushes, PutEvents, dollars per 1,000 events) for 1, 10
//!   and 100 subscribers ([`presence`]).

mod bulk;
mod heartbeat;
mod list_cost;
mod off_cost;
mod presence;
mod runtime_api;
mod servers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use message_center::domain::Session;
use message_center::gateway::NoConnections;
use message_center::service::cleanup::CleanupSettings;
use message_center::service::App;
use message_center::store::{DynamoStore, Store};
use message_center_tests::dynamodb::fresh_store;
use message_center_tests::fixtures::{at, online};
use message_center_tests::run_cleanup;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("cleanup-cost") => cleanup_cost(number(1, 10_000), number(2, 100)).await,
        Some("list-cost") => list_cost::list_cost(&args[1..]).await,
        Some("off-cost") => off_cost::off_cost(number(1, 10_000), args.iter().any(|a| a == "--round-trips")).await,
        Some("lambda-cost") => {
            let binaries = args.get(1).cloned().unwrap_or_else(|| "target/release".into());
            lambda_cost(&binaries, number(2, 50)).await
        }
        Some("heartbeat-under-load") => heartbeat::heartbeat_under_load(number(1, 100_000)).await,
        Some("presence") => presence::presence(&args[1..]).await,
        _ => {
            eprintln!(
                "usage: bench cleanup-cost [sessions] [stale] | list-cost [--server moto|dynalite] [--no-scans] \
                 [sessions ...] | off-cost [users] [--round-trips] \
                 | lambda-cost [binaries] [invocations] | heartbeat-under-load [sessions] \
                 | presence [clients] [--only memory|dynamodb|cost]"
            );
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
        config: Default::default(),
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

/// Each function, the fixture it is timed with (`events/<fixture>.json`), and whether the same
/// event without its token (or, for `$default`, an unknown message) is answered before any
/// DynamoDB call: that variant times the binary's own cold start, apart from the store's latency.
const FUNCTIONS: [(&str, &str, Option<StoreFree>); 8] = [
    ("online-list", "online-list", Some(StoreFree::WithoutToken)),
    ("online-search", "online-search", Some(StoreFree::WithoutToken)),
    ("online-detail", "online-detail", Some(StoreFree::WithoutToken)),
    ("online-off", "online-off", Some(StoreFree::WithoutToken)),
    ("ws-connect", "ws-connect", Some(StoreFree::WithoutToken)),
    (
        "ws-default",
        "ws-default-heartbeat",
        Some(StoreFree::Fixture("ws-default-unknown")),
    ),
    ("ws-disconnect", "ws-disconnect", None),
    ("online-cleanup", "online-cleanup", None),
];

/// An event a function answers without reading DynamoDB.
#[derive(Clone, Copy)]
enum StoreFree {
    /// The timed fixture with its `Authorization` header and `token` parameter removed (a 401).
    WithoutToken,
    Fixture(&'static str),
}

/// Processes started per function, for the cold-start and init figures (their median).
const COLD_STARTS: usize = 10;

/// A token record for the benches' own clients (no log capture, unlike the tests' fixture).
fn token(
    token: &str,
    tenant: i64,
    user: i64,
    permissions: &[message_center::domain::Permission],
    platform: bool,
) -> message_center::domain::TokenRecord {
    use message_center::domain::{TenantId, TokenHash, UserId};
    message_center::domain::TokenRecord {
        hash: TokenHash::of(token),
        user_id: UserId(user),
        tenant_id: TenantId(tenant),
        full_name: format!("Bench {user}"),
        avatar: None,
        permissions: permissions.iter().map(|p| p.name().to_owned()).collect(),
        platform,
        expires_at: None,
        revoked_at: None,
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let repository = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    std::fs::read(format!("{repository}/events/{name}.json")).expect("the fixture")
}

fn without_token(event: &[u8]) -> Vec<u8> {
    let mut event: serde_json::Value = serde_json::from_slice(event).expect("a JSON fixture");
    for (object, key) in [
        ("headers", "authorization"),
        ("headers", "Authorization"),
        ("queryStringParameters", "token"),
    ] {
        if let Some(fields) = event.get_mut(object).and_then(serde_json::Value::as_object_mut) {
            fields.remove(key);
        }
    }
    serde_json::to_vec(&event).expect("JSON")
}

/// One process of `binary` under its own Runtime API, its first event already queued.
struct FunctionProcess {
    api: runtime_api::RuntimeApi,
    child: std::process::Child,
    started: Instant,
}

impl FunctionProcess {
    async fn start(
        binary: &std::path::Path,
        function: &str,
        store: &DynamoStore,
        first_event: &[u8],
    ) -> (Self, String) {
        let mut api = runtime_api::RuntimeApi::start().await;
        let first_id = api.invoke(first_event);
        let started = Instant::now();
        let child = std::process::Command::new(binary)
            .env("AWS_LAMBDA_RUNTIME_API", api.address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("SESSIONS_TABLE", &store.tables().sessions)
            .env("TOKENS_TABLE", &store.tables().tokens)
            .env("DYNAMODB_ENDPOINT", message_center_tests::dynamodb::endpoint())
            .env("LOG_LEVEL", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the function starts");
        (FunctionProcess { api, child, started }, first_id)
    }

    /// The answer to `request_id`: when it came, and the status.
    async fn answer(&mut self, request_id: &str, function: &str) -> (Instant, serde_json::Value) {
        let answer = self
            .api
            .answer(Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("{function} answered within 30 s"));
        assert_eq!(answer.request_id, request_id, "{function} answered its invocation");
        (answer.at, answer_status(&answer))
    }

    fn stop(mut self) -> Option<(u64, u64)> {
        let memory = runtime_api::memory_kib(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        memory
    }
}

fn median_ms(mut values: Vec<Duration>) -> f64 {
    values.sort();
    let ms = values.get(values.len() / 2).copied().unwrap_or_default().as_secs_f64() * 1000.0;
    (ms * 10.0).round() / 10.0
}

async fn lambda_cost(binaries: &str, invocations: usize) {
    let store = fresh_store().await;
    local_api::demo::seed(&store, message_center::domain::Timestamp::now())
        .await
        .expect("the demo data is stored");
    for (function, name, store_free) in FUNCTIONS {
        let binary = std::path::Path::new(binaries).join(function);
        let binary = if binary.exists() {
            binary
        } else {
            std::path::Path::new(binaries).join(function).join("bootstrap")
        };
        let size = std::fs::metadata(&binary)
            .unwrap_or_else(|_| panic!("{} is not built: cargo build --release -p {function}", binary.display()))
            .len();
        let event = fixture(name);

        // Cold starts: a new process each time, its first event waiting for it.
        let (mut inits, mut firsts, mut status) = (Vec::new(), Vec::new(), serde_json::Value::Null);
        for _ in 0..COLD_STARTS {
            let (mut process, id) = FunctionProcess::start(&binary, function, &store, &event).await;
            let (at, first_status) = process.answer(&id, function).await;
            firsts.push(at - process.started);
            inits.push(
                process
                    .api
                    .first_poll()
                    .map(|poll| poll - process.started)
                    .unwrap_or_default(),
            );
            if status.is_null() {
                status = first_status;
            }
            process.stop();
        }
        let store_free_cold = match store_free {
            Some(variant) => {
                let event = match variant {
                    StoreFree::WithoutToken => without_token(&event),
                    StoreFree::Fixture(name) => fixture(name),
                };
                let mut firsts = Vec::new();
                for _ in 0..COLD_STARTS {
                    let (mut process, id) = FunctionProcess::start(&binary, function, &store, &event).await;
                    let (at, _) = process.answer(&id, function).await;
                    firsts.push(at - process.started);
                    process.stop();
                }
                serde_json::json!(median_ms(firsts))
            }
            None => serde_json::Value::Null,
        };

        // Warm: one process, one invocation after another; then its peak memory.
        let (mut process, id) = FunctionProcess::start(&binary, function, &store, &event).await;
        process.answer(&id, function).await;
        let mut warm = Vec::with_capacity(invocations);
        for _ in 0..invocations {
            let asked = Instant::now();
            let id = process.api.invoke(&event);
            let (at, _) = process.answer(&id, function).await;
            warm.push(at - asked);
        }
        let (peak_kib, rss_kib) = process.stop().unwrap_or_default();
        warm.sort();
        let p99 = warm
            .get((warm.len().max(1) - 1) * 99 / 100)
            .copied()
            .unwrap_or_default();
        let round = |ms: f64| (ms * 10.0).round() / 10.0;
        println!(
            "{}",
            serde_json::json!({"figure": "lambda-cost", "function": function, "event": name,
            "bytes": size, "status": status, "coldStarts": COLD_STARTS,
            "initMs": median_ms(inits), "firstResponseMs": median_ms(firsts),
            "firstResponseWithoutDynamoDbMs": store_free_cold,
            "warmP50Ms": median_ms(warm.clone()), "warmP99Ms": round(p99.as_secs_f64() * 1000.0),
            "invocations": invocations, "peakRssMiB": round(peak_kib as f64 / 1024.0),
            "rssMiB": round(rss_kib as f64 / 1024.0)})
        );
    }
}

/// The status a function answered with: the `statusCode` of an API Gateway response, `ok` for any
/// other answer (the cleanup's report), or `error` when the function reported one.
fn answer_status(answer: &runtime_api::Answer) -> serde_json::Value {
    if !answer.ok {
        return serde_json::json!(format!("error: {}", String::from_utf8_lossy(&answer.body)));
    }
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    body.get("statusCode")
        .cloned()
        .unwrap_or_else(|| serde_json::json!("ok"))
}
