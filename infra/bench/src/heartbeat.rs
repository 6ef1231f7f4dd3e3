//! `heartbeat-under-load [sessions]`: whether heavy listings starve presence on the embedded store.
//!
//! The local API is served in this process ([`local_api::serve`], the routes and app the
//! `local-api` binary serves) on the memory store, with `sessions` sessions (default 100,000) in
//! tenant 1. One WebSocket client (a user of tenant 2, so that tenant 1 holds exactly `sessions`)
//! sends heartbeats one after another and times each until its `HEARTBEAT_ACK`: first with nothing
//! else running, then while 20 HTTP clients each run the heaviest listings the read budget allows,
//! back to back: `orderBy=fullName&pageSize=2000` and the search `fullName=a` (one character, so no
//! index helps: a scan), each reading the whole tenant (up to the budget). The server runs on this
//! process's main runtime; the clients each on a thread of their own, as other processes would.
//!
//! Figures, not assertions: each listing once alone (its time, and the longest it held the runtime
//! in one poll), heartbeat p50/p99/max without and with the load, listings completed per second
//! under the load (over at least 10 s) and the listings' statuses (a listing over the budget is a
//! 400). The target is a heartbeat p99 under 50 ms during the load.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};

use message_center::domain::access::Permission;
use message_center::domain::access::TenantScope;
use message_center::domain::{OfflineReason, Session, TenantId};
use message_center::http::query::{parse_session_query, ListMode};
use message_center::http::BASE_PATH;
use message_center::store::{MemoryStore, SessionStore, Store, TokenStore};
use message_center_tests::fixtures::{at, ended, online};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::token;

const ADMIN_TOKEN: &str = "bench-heartbeat-admin-tenant-1";
const CLIENT_TOKEN: &str = "bench-heartbeat-user-tenant-2";
const HEARTBEATS: usize = 500;
/// How long the listing clients run before the heartbeats under load start.
const WARM_UP: Duration = Duration::from_millis(500);
/// The least time the load is measured for (after the warm-up), for listings a second.
const LOAD_TIME: Duration = Duration::from_secs(10);
const LISTING_CLIENTS: usize = 20;
/// The listings each HTTP client runs in turn: every one reads the whole tenant.
const LISTINGS: [&str; 2] = ["?orderBy=fullName&pageSize=2000", "/search?fullName=a"];

/// `total` sessions of tenant 1, one a second, 2,000 users with varied names, a third online.
fn tenant_of(total: usize) -> Vec<Session> {
    let first = [
        "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia", "Ken",
    ];
    let last = [
        "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Perlman", "Thompson",
    ];
    (0..total)
        .map(|n| {
            let user = 10_000 + (n % 2_000);
            let name = format!("{} {} {user}", first[user % 10], last[(user / 10) % 10]);
            let started = at(-(total as i64)).plus_secs(n as i64);
            if n % 3 == 0 {
                online(1, user as i64, &name, started)
            } else {
                ended(1, user as i64, &name, started, 30, OfflineReason::Disconnected)
            }
        })
        .collect()
}

pub async fn heartbeat_under_load(total: usize) {
    let store = Arc::new(MemoryStore::new());
    let started = Instant::now();
    for session in tenant_of(total) {
        store.open_session(&session, None).await.expect("the seed is stored");
    }
    store
        .put_token(&token(ADMIN_TOKEN, 1, 1, &[Permission::List], false))
        .await
        .expect("the admin token is stored");
    store
        .put_token(&token(CLIENT_TOKEN, 2, 2_001, &[], false))
        .await
        .expect("the client token is stored");
    eprintln!("seeded {total} sessions in {:.1} s", started.elapsed().as_secs_f64());
    let alone = listings_alone(&store).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("the bound address");
    let served: Arc<dyn Store> = store;
    tokio::spawn(local_api::serve(listener, served, None, std::future::pending()));

    // The clients on threads of their own; this runtime serves.
    let (figures_tx, figures_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = figures_tx.send(clients(address));
    });
    let figures = figures_rx.await.expect("the clients report");
    println!(
        "{}",
        serde_json::json!({
            "figure": "heartbeat-under-load",
            "sessions": total,
            "heartbeats": HEARTBEATS,
            "listingClients": LISTING_CLIENTS,
            "listings": LISTINGS,
            "idle": figures.idle,
            "underLoad": figures.loaded,
            "underLoadSeconds": (figures.heartbeat_secs * 10.0).round() / 10.0,
            "listingsDuringHeartbeats": figures.during_heartbeats,
            "loadSeconds": (figures.load_secs * 10.0).round() / 10.0,
            "listingsCompleted": figures.listings,
            "listingsPerSecond": (figures.listings as f64 / figures.load_secs * 10.0).round() / 10.0,
            "listingP50Ms": figures.listing_p50_ms,
            "listingStatuses": figures.statuses,
            "listingAlone": alone,
        })
    );
}

/// Each listing once, straight on the store with nothing else running: its time, and the longest
/// the store held the runtime in one poll (what a heartbeat may wait behind, per listing running).
async fn listings_alone(store: &MemoryStore) -> serde_json::Value {
    let mut figures = serde_json::Map::new();
    for listing in LISTINGS {
        let (raw, mode) = match listing.strip_prefix("/search?") {
            Some(raw) => (raw, ListMode::Search),
            None => (listing.trim_start_matches('?'), ListMode::List),
        };
        let query = parse_session_query(raw, mode).expect("a valid listing");
        let longest_poll = std::cell::Cell::new(Duration::ZERO);
        let started = Instant::now();
        let mut listing_future = std::pin::pin!(store.list_sessions(TenantScope::Tenant(TenantId(1)), &query));
        let page = std::future::poll_fn(|cx| {
            let poll_started = Instant::now();
            let poll = listing_future.as_mut().poll(cx);
            longest_poll.set(longest_poll.get().max(poll_started.elapsed()));
            poll
        })
        .await;
        let total = page.map_or_else(|error| error.to_string(), |page| page.total.to_string());
        figures.insert(
            listing.to_owned(),
            serde_json::json!({"ms": ms(started.elapsed()), "longestPollMs": ms(longest_poll.get()), "total": total}),
        );
    }
    figures.into()
}

struct Figures {
    idle: serde_json::Value,
    loaded: serde_json::Value,
    /// How long the heartbeats under load took, and the listings completed meanwhile.
    heartbeat_secs: f64,
    during_heartbeats: u64,
    /// How long the load was measured (after its warm-up), and the listings completed.
    load_secs: f64,
    listings: u64,
    listing_p50_ms: f64,
    statuses: BTreeMap<String, u64>,
}

/// The whole client side: the WebSocket client on this thread, the listing clients on another.
fn clients(address: SocketAddr) -> Figures {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a client runtime");
    runtime.block_on(async {
        let url = format!("ws://{address}/ws?token={CLIENT_TOKEN}&deviceId=bench-heartbeat");
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the client connects");
        beats(&mut socket, 20).await;
        let idle = beats(&mut socket, HEARTBEATS).await;

        let load = Load::default();
        // Not joined: at the end, the listing clients stop after their listing under way.
        std::thread::spawn({
            let load = load.clone();
            move || run_listings(address, load)
        });
        // Let every listing client get a listing under way.
        tokio::time::sleep(WARM_UP).await;
        let (warm, warm_at) = (load.completed.load(Ordering::Relaxed), Instant::now());
        let loaded = beats(&mut socket, HEARTBEATS).await;
        let during_heartbeats = load.completed.load(Ordering::Relaxed) - warm;
        let heartbeat_secs = warm_at.elapsed().as_secs_f64();
        // Listings a second over at least LOAD_TIME, however soon the heartbeats are done.
        tokio::time::sleep(LOAD_TIME.saturating_sub(warm_at.elapsed())).await;
        let (listings, load_secs) = (
            load.completed.load(Ordering::Relaxed) - warm,
            warm_at.elapsed().as_secs_f64(),
        );
        load.stop.store(true, Ordering::Relaxed);
        let _ = socket.close(None).await;

        let mut latencies = std::mem::take(&mut *load.latencies.lock().unwrap());
        latencies.sort();
        let statuses = std::mem::take(&mut *load.statuses.lock().unwrap());
        Figures {
            idle: summary(idle),
            loaded: summary(loaded),
            heartbeat_secs,
            during_heartbeats,
            load_secs,
            listings,
            listing_p50_ms: latencies.get(latencies.len() / 2).map_or(0.0, |d| ms(*d)),
            statuses,
        }
    })
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends `count` heartbeats one after another; the time of each until its acknowledgement.
async fn beats(socket: &mut Socket, count: usize) -> Vec<Duration> {
    let heartbeat = serde_json::json!({"action": "heartbeat"}).to_string();
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let sent = Instant::now();
        socket
            .send(Message::Text(heartbeat.clone().into()))
            .await
            .expect("the heartbeat is sent");
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let answer: serde_json::Value = serde_json::from_str(&text).expect("a JSON answer");
                    assert_eq!(
                        answer["type"], "HEARTBEAT_ACK",
                        "the heartbeat is acknowledged: {answer}"
                    );
                    break;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("the socket closed during the bench: {other:?}"),
            }
        }
        times.push(sent.elapsed());
    }
    times
}

fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 10_000.0).round() / 10.0
}

/// p50, p99 and max, in milliseconds.
fn summary(mut times: Vec<Duration>) -> serde_json::Value {
    times.sort();
    let at = |share: usize| ms(times[(times.len() * share / 100).min(times.len() - 1)]);
    serde_json::json!({"p50Ms": at(50), "p99Ms": at(99), "maxMs": ms(times[times.len() - 1])})
}

/// What the listing clients share with the heartbeat client.
#[derive(Clone, Default)]
struct Load {
    stop: Arc<AtomicBool>,
    completed: Arc<AtomicU64>,
    latencies: Arc<Mutex<Vec<Duration>>>,
    statuses: Arc<Mutex<BTreeMap<String, u64>>>,
}

/// [`LISTING_CLIENTS`] clients, each running listings back to back until told to stop.
fn run_listings(address: SocketAddr, load: Load) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a load runtime");
    runtime.block_on(async {
        let loops = (0..LISTING_CLIENTS).map(|client| {
            let load = load.clone();
            async move {
                let mut turn = client;
                while !load.stop.load(Ordering::Relaxed) {
                    let path = format!("{BASE_PATH}{}", LISTINGS[turn % LISTINGS.len()]);
                    turn += 1;
                    let started = Instant::now();
                    let status = get(address, &path).await;
                    load.latencies.lock().unwrap().push(started.elapsed());
                    *load.statuses.lock().unwrap().entry(status).or_default() += 1;
                    load.completed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        futures::future::join_all(loops).await;
    });
}

/// One GET as the admin of tenant 1, on a connection of its own; its status (or what failed).
async fn get(address: SocketAddr, path: &str) -> String {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nConnection: close\r\n\r\n"
    );
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    match exchange.await {
        Ok(response) => String::from_utf8_lossy(&response)
            .split(' ')
            .nth(1)
            .unwrap_or("no status")
            .to_owned(),
        Err(error) => format!("error: {}", error.kind()),
    }
}
