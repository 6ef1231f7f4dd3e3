//! `presence [clients] [--only memory|dynamodb|cost]`: what presence events take to arrive, and what
//! each costs on the AWS path. Figures, not assertions.
//!
//! **Delivery latency** (`presence-delivery`), twice: the local API in process on the memory store
//! (its change feed, [`Feed::of_memory`]), then on DynamoDB (moto behind the strict proxy) with
//! its sessions table's stream read as Lambda's event source mapping reads it ([`StreamReader`],
//! polled every 100 ms). Three subscribers (two admins of tenant 1 and a platform caller, each
//! subscribed to every tenant it may see) watch while `clients` WebSocket clients of tenant 1
//! (default 200, [`CLIENTS_PER_USER`] per user: under `CONNECTS_PER_MINUTE`, 30) connect all at
//! once, and then close all at once. Per subscriber and client: the first `ONLINE` arrival minus
//! the moment the client's connect completed (its upgrade answered), and the first `OFFLINE`
//! arrival minus the moment its close frame was sent; p50/p99/max, and events missing, duplicated,
//! received before their reference moment (`early`: the event left before the 101 reached the
//! client) or out of order (a client's `OFFLINE` before its `ONLINE`).
//!
//! **Cost per event on the AWS path** (`presence-cost`): on a fresh DynamoDB store on moto,
//! `S` connections (1, 10, 100) opened and subscribed through the store, then 100 sessions started;
//! their changes read back from the table's stream (as the `online-events` function receives them)
//! and given to [`publish`] with a gateway that delivers every push and a bus that counts: once as
//! one batch of 100 (a busy stream), once as batches of one (a quiet one, one invocation per
//! event). Two cases: the 100 sessions in the subscribers' tenant, and 100 sessions in 100 tenants
//! watched by `S` platform subscribers (every tenant). Per event: DynamoDB calls and items read
//! (`store.usage()`), pushes (PostToConnection calls), PutEvents calls, and from them a cost at
//! list prices ([`Prices`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::{SinkExt, StreamExt};

use local_api::presence::{Feed, StreamReader};
use local_api::Options;
use message_center::domain::events::{PresenceEvent, SessionChange, EVENT_SOURCE};
use message_center::domain::{Permission, Session, TenantId, TenantScope, Timestamp};
use message_center::gateway::{EventBus, GatewayError};
use message_center::service::events::publish;
use message_center::service::App;
use message_center::store::dynamo::schema::attr;
use message_center::store::{DynamoStore, MemoryStore, SessionStore, Store, SubscriptionStore};
use message_center_tests::dynamodb::{endpoint, fresh_store};
use message_center_tests::fixtures::online;
use message_center_tests::gateway::RecordingGateway;
use tokio_tungstenite::tungstenite::Message;

use crate::token;

/// Clients per user: under the default `CONNECTS_PER_MINUTE` (30), should the run cross no minute.
const CLIENTS_PER_USER: usize = 25;
/// The longest a run waits for every subscriber to receive every event of one kind.
const PATIENCE: Duration = Duration::from_secs(60);
/// After the last expected event, how long duplicates are still counted.
const GRACE: Duration = Duration::from_secs(1);
/// Sessions started for the cost figures, and the batches of one among them.
const COST_EVENTS: usize = 100;
const SINGLE_BATCHES: usize = 20;

struct Subscriber {
    token: &'static str,
    tenant: i64,
    user: i64,
    platform: bool,
}

const SUBSCRIBERS: [Subscriber; 3] = [
    Subscriber {
        token: "bench-presence-admin-1",
        tenant: 1,
        user: 1,
        platform: false,
    },
    Subscriber {
        token: "bench-presence-admin-2",
        tenant: 1,
        user: 2,
        platform: false,
    },
    Subscriber {
        token: "bench-presence-platform",
        tenant: 99,
        user: 3,
        platform: true,
    },
];

/// A reader of `store`'s sessions stream on moto, from now on.
async fn stream_of(store: &DynamoStore) -> StreamReader {
    let sdk = message_center::lambda::aws::sdk_config_from_env("bench");
    StreamReader::open(
        &sdk,
        store.client(),
        &store.tables().sessions,
        Some(endpoint().to_owned()),
    )
    .await
    .expect("the sessions table's stream is open")
}

fn client_token(user: usize) -> String {
    format!("bench-presence-user-{user}")
}

pub async fn presence(args: &[String]) {
    let clients = args.iter().find_map(|a| a.parse::<usize>().ok()).unwrap_or(200);
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let runs = |part: &str| only.is_none_or(|o| o == part);
    if runs("memory") {
        let store = MemoryStore::new();
        let feed = Feed::of_memory(&store);
        delivery("memory", Arc::new(store), feed, clients).await;
    }
    if runs("dynamodb") {
        let store = fresh_store().await;
        let reader = stream_of(&store).await;
        delivery("dynamodb-stream", Arc::new(store), Feed::Stream(reader), clients).await;
    }
    if runs("cost") {
        eprintln!("prices assumed: {}", Prices::LIST.describe());
        for scenario in [Scenario::OneTenant, Scenario::EveryTenant] {
            for subscribers in [1, 10, 100] {
                cost(scenario, subscribers).await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Delivery latency

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Online,
    Offline,
}

/// One `PRESENCE` message as a subscriber received it.
struct Arrival {
    device: String,
    kind: Kind,
    at: Instant,
}

type Arrivals = Arc<Mutex<Vec<Arrival>>>;

async fn delivery(backend: &str, store: Arc<dyn Store>, feed: Feed, clients: usize) {
    let users = clients.div_ceil(CLIENTS_PER_USER);
    for s in &SUBSCRIBERS {
        store
            .put_token(&token(s.token, s.tenant, s.user, &[Permission::List], s.platform))
            .await
            .expect("a subscriber's token is stored");
    }
    for user in 0..users {
        store
            .put_token(&token(&client_token(user), 1, 1_000 + user as i64, &[], false))
            .await
            .expect("a client's token is stored");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("the bound address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = Options {
        feed,
        ..Options::default()
    };
    let server = tokio::spawn(local_api::serve_with(listener, store, options, async move {
        let _ = stopped.await;
    }));

    // The clients on threads of their own (as other processes would be); this runtime serves.
    let (figures_tx, figures_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = figures_tx.send(drive(address, clients));
    });
    let figures = figures_rx.await.expect("the clients report");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    let mut line = serde_json::json!({
        "figure": "presence-delivery",
        "backend": backend,
        "subscribers": SUBSCRIBERS.len(),
        "clients": clients,
        "users": users,
    });
    if let (Some(line), serde_json::Value::Object(figures)) = (line.as_object_mut(), figures) {
        line.extend(figures);
    }
    println!("{line}");
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

static RUNS: AtomicU64 = AtomicU64::new(0);

/// The client side of one run: the subscribers on a thread of their own, the clients on this one.
fn drive(address: SocketAddr, clients: usize) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a client runtime");
    runtime.block_on(async {
        let arrivals: Vec<Arrivals> = SUBSCRIBERS.iter().map(|_| Arrivals::default()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let watching = std::thread::spawn({
            let arrivals = arrivals.clone();
            let stop = stop.clone();
            move || watch(address, arrivals, stop, ready_tx)
        });
        ready_rx.await.expect("the subscribers are subscribed");
        let prefix = format!(
            "bench-presence-{}-{}-",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        );

        // Every client at once.
        let started = Instant::now();
        let connects = (0..clients).map(|n| {
            let device = format!("{prefix}{n}");
            let url = format!(
                "ws://{address}/ws?token={}&deviceId={device}",
                client_token(n / CLIENTS_PER_USER)
            );
            async move {
                let result = tokio_tungstenite::connect_async(url).await;
                (device, result.map(|(socket, _)| socket), Instant::now())
            }
        });
        let mut sockets: Vec<(String, Socket)> = Vec::new();
        let mut connected_at = HashMap::new();
        let mut refused: BTreeMap<String, u64> = BTreeMap::new();
        for (device, result, at) in futures::future::join_all(connects).await {
            match result {
                Ok(socket) => {
                    connected_at.insert(device.clone(), at);
                    sockets.push((device, socket));
                }
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    *refused.entry(response.status().to_string()).or_default() += 1
                }
                Err(error) => *refused.entry(error.to_string()).or_default() += 1,
            }
        }
        let connect_secs = started.elapsed().as_secs_f64();
        let online_wait = wait_for(&arrivals, &prefix, Kind::Online, sockets.len()).await;

        // Every client closes at once.
        let started = Instant::now();
        let closes = sockets.into_iter().map(|(device, mut socket)| async move {
            let _ = socket.close(None).await;
            (device, Instant::now(), socket)
        });
        let closed = futures::future::join_all(closes).await;
        let close_secs = started.elapsed().as_secs_f64();
        let closed_at: HashMap<String, Instant> = closed.iter().map(|(d, at, _)| (d.clone(), *at)).collect();
        let offline_wait = wait_for(&arrivals, &prefix, Kind::Offline, closed_at.len()).await;
        tokio::time::sleep(GRACE).await;
        stop.store(true, Ordering::Relaxed);
        drop(closed);
        watching.join().expect("the subscribers' thread ends");

        let received: Vec<Vec<Arrival>> = arrivals
            .iter()
            .map(|a| std::mem::take(&mut *a.lock().unwrap()))
            .collect();
        serde_json::json!({
            "connected": connected_at.len(),
            "refused": refused,
            "connectAllSeconds": round(connect_secs, 2),
            "closeAllSeconds": round(close_secs, 2),
            "allOnlineReceivedSeconds": round(online_wait, 2),
            "allOfflineReceivedSeconds": round(offline_wait, 2),
            "ONLINE": latencies(&received, &prefix, Kind::Online, &connected_at),
            "OFFLINE": latencies(&received, &prefix, Kind::Offline, &closed_at),
            "outOfOrder": out_of_order(&received, &prefix),
        })
    })
}

/// Seconds until every subscriber has `expected` distinct clients' events of `kind` (or
/// [`PATIENCE`] ran out).
async fn wait_for(arrivals: &[Arrivals], prefix: &str, kind: Kind, expected: usize) -> f64 {
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        let done = arrivals.iter().all(|a| {
            let a = a.lock().unwrap();
            let devices: BTreeSet<&str> = a
                .iter()
                .filter(|x| x.kind == kind && x.device.starts_with(prefix))
                .map(|x| x.device.as_str())
                .collect();
            devices.len() >= expected
        });
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed().as_secs_f64()
}

/// The subscribers: each connects, subscribes, and records every `PRESENCE` message until `stop`.
fn watch(address: SocketAddr, arrivals: Vec<Arrivals>, stop: Arc<AtomicBool>, ready: tokio::sync::oneshot::Sender<()>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a subscriber runtime");
    runtime.block_on(async {
        let mut sockets = Vec::new();
        for (n, s) in SUBSCRIBERS.iter().enumerate() {
            let url = format!("ws://{address}/ws?token={}&deviceId=bench-subscriber-{n}", s.token);
            let (mut socket, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("a subscriber connects");
            socket
                .send(Message::Text(r#"{"action":"subscribe"}"#.into()))
                .await
                .expect("the subscribe is sent");
            loop {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let answer: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                        match answer["type"].as_str() {
                            Some("SUBSCRIBED") => break,
                            Some("PRESENCE") => {}
                            _ => panic!("the subscribe is refused: {answer}"),
                        }
                    }
                    Some(Ok(_)) => {}
                    other => panic!("a subscriber's socket closed: {other:?}"),
                }
            }
            sockets.push(socket);
        }
        let _ = ready.send(());
        let readers = sockets.into_iter().zip(arrivals).map(|(mut socket, arrivals)| {
            let stop = stop.clone();
            async move {
                while !stop.load(Ordering::Relaxed) {
                    let message = match tokio::time::timeout(Duration::from_millis(20), socket.next()).await {
                        Err(_) => continue,
                        Ok(Some(Ok(Message::Text(text)))) => text,
                        Ok(Some(Ok(_))) => continue,
                        Ok(_) => break,
                    };
                    let at = Instant::now();
                    let message: serde_json::Value = serde_json::from_str(&message).expect("JSON");
                    if message["type"] != "PRESENCE" {
                        continue;
                    }
                    let kind = match message["event"].as_str() {
                        Some("ONLINE") => Kind::Online,
                        Some("OFFLINE") => Kind::Offline,
                        other => panic!("an unknown presence event: {other:?}"),
                    };
                    let device = message["session"]["deviceId"].as_str().unwrap_or_default().to_owned();
                    arrivals.lock().unwrap().push(Arrival { device, kind, at });
                }
                let _ = socket.close(None).await;
            }
        });
        futures::future::join_all(readers).await;
    });
}

/// Milliseconds from `reference` to `at`, negative when `at` came first.
fn signed_ms(at: Instant, reference: Instant) -> f64 {
    match at.checked_duration_since(reference) {
        Some(after) => after.as_secs_f64() * 1000.0,
        None => -(reference - at).as_secs_f64() * 1000.0,
    }
}

/// Per subscriber and client, the first arrival of `kind` against the client's moment; what is
/// missing, duplicated, early, or about a client that was not connected.
fn latencies(
    received: &[Vec<Arrival>],
    prefix: &str,
    kind: Kind,
    reference: &HashMap<String, Instant>,
) -> serde_json::Value {
    let (mut times, mut missing, mut duplicates, mut early, mut unexpected) = (Vec::new(), 0, 0, 0, 0);
    for arrivals in received {
        let mut by_device: HashMap<&str, Vec<Instant>> = HashMap::new();
        for a in arrivals
            .iter()
            .filter(|a| a.kind == kind && a.device.starts_with(prefix))
        {
            by_device.entry(a.device.as_str()).or_default().push(a.at);
        }
        unexpected += by_device.keys().filter(|d| !reference.contains_key(**d)).count();
        for (device, moment) in reference {
            match by_device.get(device.as_str()) {
                None => missing += 1,
                Some(ats) => {
                    duplicates += ats.len() - 1;
                    let first = ats.iter().min().copied().expect("one arrival at least");
                    if first < *moment {
                        early += 1;
                    }
                    times.push(signed_ms(first, *moment));
                }
            }
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |share: usize| {
        times
            .get((times.len() * share / 100).min(times.len().saturating_sub(1)))
            .map_or(serde_json::Value::Null, |ms| serde_json::json!(round(*ms, 1)))
    };
    serde_json::json!({
        "received": times.len(), "p50Ms": at(50), "p99Ms": at(99),
        "maxMs": times.last().map(|ms| round(*ms, 1)), "minMs": times.first().map(|ms| round(*ms, 1)),
        "missing": missing, "duplicates": duplicates, "early": early, "unexpected": unexpected,
    })
}

/// Per subscriber, the clients whose first `OFFLINE` came before their first `ONLINE`.
fn out_of_order(received: &[Vec<Arrival>], prefix: &str) -> usize {
    received
        .iter()
        .map(|arrivals| {
            let mut first: HashMap<(&str, Kind), usize> = HashMap::new();
            for (position, a) in arrivals
                .iter()
                .enumerate()
                .filter(|(_, a)| a.device.starts_with(prefix))
            {
                first.entry((a.device.as_str(), a.kind)).or_insert(position);
            }
            first
                .iter()
                .filter(|((device, kind), offline)| {
                    *kind == Kind::Offline
                        && first
                            .get(&(*device, Kind::Online))
                            .is_none_or(|online| *offline < online)
                })
                .count()
        })
        .sum()
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

// ---------------------------------------------------------------------------------------------
// Cost per event

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// The events' sessions in the subscribers' tenant (1); tenant subscribers.
    OneTenant,
    /// Each event's session in a tenant of its own; platform subscribers of every tenant.
    EveryTenant,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::OneTenant => "one tenant, tenant subscribers",
            Scenario::EveryTenant => "100 tenants, platform subscribers",
        }
    }
}

/// List prices (us-east-1), in dollars per unit.
struct Prices {
    /// On-demand read request unit (a consistent read of up to 4 KB; a query sums its items' sizes
    /// and rounds up to 4 KB, 1 unit at least).
    read_unit: f64,
    /// API Gateway WebSocket message (each 32 KB unit of one message).
    ws_message: f64,
    /// EventBridge custom event put (each 64 KB chunk of one entry).
    bus_event: f64,
    /// Lambda request, and a millisecond of a 128 MB function (x86).
    lambda_request: f64,
    lambda_ms_128mb: f64,
    /// Billed duration per round of concurrent AWS calls inside one invocation (an assumption: one
    /// round trip to DynamoDB, API Gateway or EventBridge from Lambda), plus a fixed part.
    round_ms: f64,
    base_ms: f64,
}

impl Prices {
    const LIST: Prices = Prices {
        read_unit: 0.25 / 1e6,
        ws_message: 1.00 / 1e6,
        bus_event: 1.00 / 1e6,
        lambda_request: 0.20 / 1e6,
        lambda_ms_128mb: 0.000_000_002_1,
        round_ms: 20.0,
        base_ms: 5.0,
    };

    fn describe(&self) -> String {
        format!(
            "DynamoDB on-demand ${}/M read units (consistent query: 1 per 4 KB of items, at least 1), \
             Streams GetRecords free (Lambda trigger), API Gateway WebSocket ${}/M messages (32 KB units), \
             EventBridge ${}/M events (64 KB chunks), Lambda ${}/M requests + ${}/ms at 128 MB, \
             billed {} ms + {} ms per round of concurrent calls (assumed)",
            self.read_unit * 1e6,
            self.ws_message * 1e6,
            self.bus_event * 1e6,
            self.lambda_request * 1e6,
            self.lambda_ms_128mb,
            self.base_ms,
            self.round_ms
        )
    }
}

/// An event bus that accepts every event and counts what the EventBridge bus would send.
#[derive(Default)]
struct CountingBus {
    /// PutEvents calls (10 entries each at most), and how many were in flight at most one after
    /// another (the bus runs 8 at once).
    calls: AtomicU64,
    rounds: AtomicU64,
    events: AtomicU64,
    /// 64 KB chunks of the entries.
    chunks: AtomicU64,
}

impl EventBus for CountingBus {
    // `#[async_trait]`, written out: the bench does not depend on the macro's crate.
    fn put<'life0, 'life1, 'async_trait>(
        &'life0 self,
        events: &'life1 [PresenceEvent],
    ) -> Pin<Box<dyn Future<Output = Vec<Result<(), GatewayError>>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let calls = events.len().div_ceil(10) as u64;
            self.calls.fetch_add(calls, Ordering::Relaxed);
            self.rounds.fetch_add(calls.div_ceil(8), Ordering::Relaxed);
            self.events.fetch_add(events.len() as u64, Ordering::Relaxed);
            let chunks: u64 = events
                .iter()
                .map(|e| {
                    let bytes = EVENT_SOURCE.len() + e.kind.detail_type().len() + e.detail_json().len();
                    bytes.div_ceil(64 * 1024) as u64
                })
                .sum();
            self.chunks.fetch_add(chunks, Ordering::Relaxed);
            events.iter().map(|_| Ok(())).collect()
        })
    }
}

/// What publishing some batches took, summed.
#[derive(Debug, Default, Clone, Copy)]
struct Measured {
    invocations: u64,
    events: u64,
    calls: u64,
    items_read: u64,
    read_units: u64,
    pushes: u64,
    push_units: u64,
    put_calls: u64,
    bus_chunks: u64,
    billed_ms: f64,
    wall: Duration,
}

async fn cost(scenario: Scenario, subscribers: usize) {
    let store = fresh_store().await;
    let now = Timestamp::now();
    let scope = match scenario {
        Scenario::OneTenant => TenantScope::Tenant(TenantId(1)),
        Scenario::EveryTenant => TenantScope::All,
    };
    let connections: Vec<String> = futures::stream::iter(0..subscribers)
        .map(|n| {
            let store = &store;
            async move {
                let session = online(1, 10 + n as i64, "Bench Subscriber", now);
                store
                    .open_session(&session, None)
                    .await
                    .expect("a subscriber's session opens");
                store
                    .subscribe(&session.connection_id, scope, now)
                    .await
                    .expect("the subscription is stored");
                session.connection_id
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let item_bytes = subscription_item_bytes(&store, scope).await;

    // The events: sessions started, read back from the table's stream.
    let mut reader = stream_of(&store).await;
    let sessions: Vec<Session> = (0..COST_EVENTS)
        .map(|n| {
            let tenant = match scenario {
                Scenario::OneTenant => 1,
                Scenario::EveryTenant => 100 + n as i64,
            };
            online(tenant, 5_000 + n as i64, &format!("Bench User {n}"), now)
        })
        .collect();
    futures::stream::iter(&sessions)
        .for_each_concurrent(8, |session| {
            let store = &store;
            async move {
                store.open_session(session, None).await.expect("a session opens");
            }
        })
        .await;
    let mut changes: Vec<SessionChange> = Vec::new();
    let started = Instant::now();
    while changes.len() < COST_EVENTS && started.elapsed() < Duration::from_secs(20) {
        let batch = reader.next_batch().await.expect("the stream is read");
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        changes.extend(batch.into_iter().filter(|c| PresenceEvent::from_change(c).is_some()));
    }
    let source = if changes.len() == COST_EVENTS {
        "stream"
    } else {
        eprintln!(
            "the stream gave {} of {COST_EVENTS} session starts; the batch is built from the sessions",
            changes.len()
        );
        changes = sessions
            .iter()
            .map(|s| SessionChange {
                before: None,
                after: Some(s.clone()),
            })
            .collect();
        "built"
    };

    let gateway = Arc::new(RecordingGateway::with_live(connections.iter().cloned()));
    let app = App {
        store: Arc::new(store.clone()),
        gateway: gateway.clone(),
        config: Default::default(),
    };
    let bus = CountingBus::default();
    let reads = Reads {
        subscribers,
        scenario,
        item_bytes,
    };
    let batch = measure(&app, &bus, &gateway, &store, &reads, &changes).await;
    let mut single = Measured::default();
    for change in changes.iter().take(SINGLE_BATCHES) {
        let one = measure(&app, &bus, &gateway, &store, &reads, std::slice::from_ref(change)).await;
        single = add(single, one);
    }
    for (size, measured) in [(COST_EVENTS, batch), (1, single)] {
        println!("{}", report(scenario, subscribers, size, source, item_bytes, &measured));
    }
}

/// What the subscriber reads of one batch read, by the store's layout: per tenant with events, a
/// consistent query of `SUB#<tenant>` and one of `SUB#*`.
struct Reads {
    subscribers: usize,
    scenario: Scenario,
    item_bytes: usize,
}

impl Reads {
    fn units(&self, tenants: usize) -> u64 {
        let query = |items: usize| (items * self.item_bytes).div_ceil(4096).max(1) as u64;
        let (own, every) = match self.scenario {
            Scenario::OneTenant => (self.subscribers, 0),
            Scenario::EveryTenant => (0, self.subscribers),
        };
        tenants as u64 * (query(own) + query(every))
    }
}

async fn measure(
    app: &App,
    bus: &CountingBus,
    gateway: &RecordingGateway,
    store: &DynamoStore,
    reads: &Reads,
    changes: &[SessionChange],
) -> Measured {
    let sent_before = gateway.sent().len();
    let (calls_before, chunks_before, rounds_before) = (
        bus.calls.load(Ordering::Relaxed),
        bus.chunks.load(Ordering::Relaxed),
        bus.rounds.load(Ordering::Relaxed),
    );
    let usage_before = store.usage();
    let started = Instant::now();
    let published = publish(app, bus, changes).await;
    let wall = started.elapsed();
    let usage = store.usage() - usage_before;
    assert!(published.failed.is_empty(), "every event is delivered: {published:?}");
    let sent = gateway.sent();
    let pushed = &sent[sent_before..];
    let tenants = changes
        .iter()
        .filter_map(|c| c.after.as_ref().map(|s| s.tenant_id))
        .collect::<BTreeSet<_>>()
        .len();
    let bus_rounds = bus.rounds.load(Ordering::Relaxed) - rounds_before;
    // Rounds of concurrent calls: the subscriber reads (16 tenants at once), the pushes (128 at
    // once), the PutEvents calls (8 at once).
    let rounds = tenants.div_ceil(16) as u64 + (pushed.len() as u64).div_ceil(128) + bus_rounds;
    Measured {
        invocations: 1,
        events: published.events as u64,
        calls: usage.calls,
        items_read: usage.items_read,
        read_units: reads.units(tenants),
        pushes: pushed.len() as u64,
        push_units: pushed.iter().map(|(_, m)| m.len().div_ceil(32 * 1024) as u64).sum(),
        put_calls: bus.calls.load(Ordering::Relaxed) - calls_before,
        bus_chunks: bus.chunks.load(Ordering::Relaxed) - chunks_before,
        billed_ms: Prices::LIST.base_ms + rounds as f64 * Prices::LIST.round_ms,
        wall,
    }
}

fn add(a: Measured, b: Measured) -> Measured {
    Measured {
        invocations: a.invocations + b.invocations,
        events: a.events + b.events,
        calls: a.calls + b.calls,
        items_read: a.items_read + b.items_read,
        read_units: a.read_units + b.read_units,
        pushes: a.pushes + b.pushes,
        push_units: a.push_units + b.push_units,
        put_calls: a.put_calls + b.put_calls,
        bus_chunks: a.bus_chunks + b.bus_chunks,
        billed_ms: a.billed_ms + b.billed_ms,
        wall: a.wall + b.wall,
    }
}

fn report(
    scenario: Scenario,
    subscribers: usize,
    batch: usize,
    source: &str,
    item_bytes: usize,
    m: &Measured,
) -> serde_json::Value {
    let p = Prices::LIST;
    let events = m.events.max(1) as f64;
    let per_event = |n: u64| round(n as f64 / events, 3);
    let per_thousand = |dollars: f64| round(dollars * 1000.0 / events, 6);
    let dynamodb = m.read_units as f64 * p.read_unit;
    let websocket = m.push_units as f64 * p.ws_message;
    let eventbridge = m.bus_chunks as f64 * p.bus_event;
    let lambda = m.invocations as f64 * p.lambda_request + m.billed_ms * p.lambda_ms_128mb;
    serde_json::json!({
        "figure": "presence-cost",
        "scenario": scenario.name(),
        "subscribers": subscribers,
        "batch": batch,
        "events": m.events,
        "changesFrom": source,
        "subscriptionItemBytes": item_bytes,
        "perEvent": {
            "dynamodbCalls": per_event(m.calls),
            "itemsRead": per_event(m.items_read),
            "readUnits": per_event(m.read_units),
            "pushes": per_event(m.pushes),
            "putEventsCalls": per_event(m.put_calls),
            "lambdaInvocations": per_event(m.invocations),
            "billedLambdaMs": round(m.billed_ms / events, 2),
        },
        "usdPer1000Events": {
            "dynamodb": per_thousand(dynamodb),
            "apiGatewayMessages": per_thousand(websocket),
            "eventBridge": per_thousand(eventbridge),
            "lambda": per_thousand(lambda),
            "total": per_thousand(dynamodb + websocket + eventbridge + lambda),
        },
        "publishMsOnMoto": round(m.wall.as_secs_f64() * 1000.0 / m.invocations.max(1) as f64, 1),
    })
}

/// The largest subscription item of `scope`, in DynamoDB's item size (names and values, UTF-8).
async fn subscription_item_bytes(store: &DynamoStore, scope: TenantScope) -> usize {
    let key = match scope {
        TenantScope::All => "SUB#*".to_owned(),
        TenantScope::Tenant(tenant) => format!("SUB#{tenant}"),
    };
    let page = store
        .client()
        .query()
        .table_name(&store.tables().sessions)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", attr::PK)
        .expression_attribute_values(":pk", AttributeValue::S(key))
        .send()
        .await
        .expect("the subscriptions are read");
    page.items()
        .iter()
        .map(|item| item.iter().map(|(name, value)| name.len() + value_bytes(value)).sum())
        .max()
        .unwrap_or(0)
}

/// A value's size as DynamoDB counts it (numbers: about one byte per two digits, plus one).
fn value_bytes(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| k.len() + value_bytes(v) + 1).sum::<usize>(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| value_bytes(v) + 1).sum::<usize>(),
        _ => 0,
    }
}
