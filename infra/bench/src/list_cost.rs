//! `list-cost [--server moto|dynalite] [--no-scans] [sessions ...]`: for one tenant of each size
//! (default 1,000 and 100,000), what each kind of listing call and the detail cost: DynamoDB
//! calls, items read (a query's `ScannedCount`, one per item a GetItem or BatchGetItem found),
//! latency; a listing the store refuses past its read budget
//! ([`message_center::domain::listing::DEFAULT_READ_BUDGET`]) is reported as refused, with what it
//! had read.
//!
//! The tenant is the same at every size but for its filler, so a search matches the same sessions
//! whatever the size:
//! - filler: `N - 90` sessions, one a minute up to a minute ago (a third online), of 1,000 users
//!   (20000 to 20999) named from [`FILLER_NAMES`], none of which contains `ad`, `ada` or `lov`;
//! - user 10007 "Ada Lovelace": 30 sessions over the last 15 hours, 10 online, the only ones whose
//!   user agent contains `Edg`;
//! - user 10008 "Adam Smith": 10 sessions, 5 online (the other user `fullName=ada` finds);
//! - users 10100 to 10109 (the `userId IN` row): 5 sessions each, 1 online.
//!
//! Sizes up to 1,000,000 are loaded by [`crate::bulk`]; on moto, `--no-scans` leaves out the rows
//! that read the tenant (minutes a query there at 100,000 sessions and more).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Instant;

use message_center::domain::access::TenantScope;
use message_center::domain::error::StoreError;
use message_center::domain::{OfflineReason, Position, Session, SessionQuery, TenantId, UserId};
use message_center::http::query::{parse_session_query, ListMode};
use message_center::store::{DynamoStore, SessionStore, Store};
use message_center_tests::dynamodb::fresh_store;
use message_center_tests::fixtures::{at, ended, online};

use crate::bulk::import_tenant;
use crate::servers::{Dynalite, Server};

const TENANT: i64 = 1;
const ADA: i64 = 10_007;
const ADAM: i64 = 10_008;
const IN_USERS: std::ops::Range<i64> = 10_100..10_110;
const FIRST_FILLER_USER: i64 = 20_000;
const FILLER_USERS: i64 = 1_000;
/// Names of the filler users: none contains `ad` (so none `ada`) nor `lov`, folded.
const FILLER_NAMES: [&str; 5] = [
    "Grace Hopper",
    "Alan Turing",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Ken Thompson",
];
const PROBE_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/140.0";

/// The fixed users' sessions (90), the same at every size.
fn probes() -> Vec<Session> {
    let mut sessions = Vec::new();
    let mut add = |user: i64, name: &str, started: i64, is_online: bool| {
        let started = at(-started);
        let mut session = if is_online {
            online(TENANT, user, name, started)
        } else {
            ended(TENANT, user, name, started, 600, OfflineReason::Disconnected)
        };
        if user == ADA {
            session.user_agent = Some(PROBE_AGENT.into());
        }
        sessions.push(session);
    };
    for k in 0..30 {
        add(ADA, "Ada Lovelace", k * 1800 + 17, k % 3 == 0);
    }
    for k in 0..10 {
        add(ADAM, "Adam Smith", k * 3600 + 29, k % 2 == 0);
    }
    for (i, user) in IN_USERS.enumerate() {
        for k in 0..5 {
            add(user, FILLER_NAMES[i % 2], k * 7200 + i as i64 * 60 + 41, k == 0);
        }
    }
    sessions
}

/// Filler sessions `range` of a tenant with `fillers` of them: session `n` started `fillers - n`
/// minutes ago.
fn filler(fillers: usize, range: std::ops::Range<usize>) -> Vec<Session> {
    range
        .map(|n| {
            let user = FIRST_FILLER_USER + n as i64 % FILLER_USERS;
            let name = FILLER_NAMES[(user % FILLER_NAMES.len() as i64) as usize];
            let started = at(-((fillers - n) as i64) * 60);
            if n % 3 == 0 {
                online(TENANT, user, name, started)
            } else {
                ended(TENANT, user, name, started, 30, OfflineReason::Disconnected)
            }
        })
        .collect()
}

/// What one row measured at one size.
#[derive(Clone)]
struct Measured {
    calls: u64,
    items: u64,
    /// Matches (`total`), or the sessions the detail returned.
    matched: Option<u64>,
    /// Refused past the read budget (of this many sessions).
    refused: Option<usize>,
    p50_ms: f64,
}

impl Measured {
    fn cell(&self) -> String {
        match self.refused {
            Some(_) => format!("refused after {} items ({} calls)", thousands(self.items), self.calls),
            None => format!("{} / {}", self.calls, thousands(self.items)),
        }
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `list-cost` with its arguments.
pub async fn list_cost(args: &[String]) {
    let mut server = Server::Moto;
    let mut scans = true;
    let mut sizes = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--server" => {
                server = args
                    .next()
                    .and_then(|name| Server::parse(name))
                    .expect("--server moto or --server dynalite")
            }
            "--no-scans" => scans = false,
            size => sizes.push(size.parse::<usize>().expect("a number of sessions")),
        }
    }
    if sizes.is_empty() {
        sizes = vec![1_000, 100_000];
    }
    let mut table: BTreeMap<usize, Vec<(String, Option<Measured>)>> = BTreeMap::new();
    for size in &sizes {
        let rows = match server {
            Server::Moto => size_cost(&fresh_store().await, server, *size, scans, None).await,
            Server::Dynalite => {
                let dynalite = Dynalite::start();
                size_cost(&dynalite.store().await, server, *size, scans, Some(&dynalite)).await
            }
        };
        table.insert(*size, rows);
    }
    print_table(server, &sizes, &table);
}

/// Loads a tenant of `total` sessions and measures every row against it.
async fn size_cost(
    store: &DynamoStore,
    server: Server,
    total: usize,
    scans: bool,
    dynalite: Option<&Dynalite>,
) -> Vec<(String, Option<Measured>)> {
    let probes = probes();
    assert!(total >= probes.len() + 60, "at least {} sessions", probes.len() + 60);
    let fillers = total - probes.len();
    let imported = import_tenant(store, server, total, |range| filler(fillers, range), &probes).await;
    println!(
        "{}",
        serde_json::json!({"figure": "import", "server": server.name(), "sessions": imported.sessions,
        "items": imported.items, "seconds": (imported.seconds * 10.0).round() / 10.0,
        "itemsPerSecond": (imported.items as f64 / imported.seconds).round(),
        "serverRssMiB": dynalite.and_then(Dynalite::rss_mib)})
    );

    let scope = TenantScope::Tenant(TenantId(TENANT));
    let list = |text: &str| parse_session_query(text, ListMode::List).expect("a valid query");
    let search = |text: &str| parse_session_query(text, ListMode::Search).expect("a valid query");
    // The position after page 9 of the default listing, as a page token would carry it.
    let page_9 = store.list_sessions(scope, &list("pageNo=9")).await.unwrap();
    let after_page_9 = Position::of(page_9.sessions.last().unwrap(), list("").order_by);
    let cursor_page = SessionQuery {
        after: Some(after_page_9),
        ..list("")
    };
    let in_users = IN_USERS
        .map(|user| format!("filters[0].value={user}"))
        .collect::<Vec<_>>()
        .join("&");
    // (row, query, whether it reads the tenant: a Scan plan)
    let listings: Vec<(&str, SessionQuery, bool)> = vec![
        ("default list, page 1 of 10", list(""), false),
        ("default list, page 10 (pageNo=10)", list("pageNo=10"), false),
        ("page 10 by pageToken", cursor_page, false),
        ("online=true, page 1", list("online=true"), false),
        ("online=false, page 1", list("online=false"), false),
        (
            "onlineDate in the last hour, page 1",
            list(&format!(
                "filters[0].key=onlineDate&filters[0].op=GREATER_THAN_EQUAL&filters[0].value={}",
                at(-3600).to_string().replace(' ', "%20")
            )),
            false,
        ),
        ("userId=10007, page 1", list("userId=10007"), false),
        (
            "userId IN (10 ids), page 1",
            list(&format!("filters[0].key=userId&filters[0].op=IN&{in_users}")),
            false,
        ),
        ("search fullName=ada, page 1", search("fullName=ada"), false),
        ("search fullName=lovelace, page 1", search("fullName=lovelace"), false),
        ("orderBy=fullName, page 1", list("orderBy=fullName"), true),
        ("search fullName=ad (2 characters), page 1", search("fullName=ad"), true),
        (
            "userAgent MATCH Edg, page 1",
            list("filters[0].key=userAgent&filters[0].op=MATCH&filters[0].value=Edg"),
            true,
        ),
    ];
    // Fewer runs of a large tenant; one of a read of the tenant.
    let runs = |reads_tenant: bool| match (total > 20_000, reads_tenant) {
        (false, _) => 20,
        (true, false) => 3,
        (true, true) => 1,
    };
    let mut rows = Vec::new();
    let detail = measure(store, server, total, "detail of user 10007", runs(false), || async {
        store
            .user_sessions(scope, UserId(ADA), 50)
            .await
            .map(|sessions| sessions.len() as u64)
    })
    .await;
    rows.push(("detail of user 10007".to_owned(), Some(detail)));
    for (name, listing, reads_tenant) in &listings {
        let measured = if *reads_tenant && !scans {
            println!(
                "{}",
                serde_json::json!({"figure": "call-cost", "server": server.name(), "sessions": total,
                "call": name, "notRun": "--no-scans"})
            );
            None
        } else {
            Some(
                measure(store, server, total, name, runs(*reads_tenant), || async {
                    store.list_sessions(scope, listing).await.map(|page| page.total)
                })
                .await,
            )
        };
        rows.push((name.to_string(), measured));
    }
    rows
}

/// Runs `call` `runs` times and prints its DynamoDB cost (per call) and latency; a call refused
/// past the read budget is run once, and reported with what it read.
async fn measure<F, Fut>(store: &DynamoStore, server: Server, total: usize, name: &str, runs: u64, call: F) -> Measured
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let before = store.usage();
    let mut latencies = Vec::new();
    let (mut matched, mut refused) = (None, None);
    let mut done = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let outcome = call().await;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        done += 1;
        match outcome {
            Ok(found) => matched = Some(found),
            Err(StoreError::ReadBudget(budget)) => {
                refused = Some(budget);
                break;
            }
            Err(error) => panic!("{name} at {total} sessions: {error}"),
        }
    }
    let cost = store.usage() - before;
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    let measured = Measured {
        calls: cost.calls / done,
        items: cost.items_read / done,
        matched,
        refused,
        p50_ms: (percentile(0.5) * 10.0).round() / 10.0,
    };
    println!(
        "{}",
        serde_json::json!({"figure": "call-cost", "server": server.name(), "sessions": total, "call": name,
        "calls": measured.calls, "itemsRead": measured.items,
        "itemsPerCall": (measured.items as f64 / measured.calls.max(1) as f64).round(),
        "matched": measured.matched, "refusedPastReadBudget": measured.refused, "runs": done,
        "p50Ms": measured.p50_ms, "p99Ms": (percentile(0.99) * 10.0).round() / 10.0})
    );
    measured
}

/// The rows side by side, as Markdown: calls / items read at each size.
fn print_table(server: Server, sizes: &[usize], table: &BTreeMap<usize, Vec<(String, Option<Measured>)>>) {
    let Some(first) = sizes.first().and_then(|size| table.get(size)) else {
        return;
    };
    let header: Vec<String> = sizes
        .iter()
        .map(|size| format!("{} sessions: calls / items read", thousands(*size as u64)))
        .collect();
    println!("\n{}:\n\n| call | {} | matches |", server.name(), header.join(" | "));
    println!("|---|{}---|", "---|".repeat(sizes.len()));
    for (i, (name, _)) in first.iter().enumerate() {
        let cells: Vec<String> = sizes
            .iter()
            .map(
                |size| match table.get(size).and_then(|rows| rows.get(i)).and_then(|r| r.1.as_ref()) {
                    Some(measured) => measured.cell(),
                    None => "not run".to_owned(),
                },
            )
            .collect();
        let matches: Vec<String> = sizes
            .iter()
            .map(|size| {
                table
                    .get(size)
                    .and_then(|rows| rows.get(i))
                    .and_then(|r| r.1.as_ref())
                    .and_then(|m| m.matched)
                    .map_or("-".to_owned(), thousands)
            })
            .collect();
        println!("| {name} | {} | {} |", cells.join(" | "), matches.join(" / "));
    }
    let latencies: Vec<String> = sizes
        .iter()
        .map(|size| {
            let p50s: Vec<String> = table[size]
                .iter()
                .map(|(_, m)| m.as_ref().map_or("-".to_owned(), |m| format!("{}", m.p50_ms)))
                .collect();
            format!("{}: {}", thousands(*size as u64), p50s.join(", "))
        })
        .collect();
    println!("p50 ms per row ({}): {}", server.name(), latencies.join("; "));
}
