//! Racing clients: generated mixes of connects, heartbeats, disconnects, forced offline (by user ids
//! and by tenant) and cleanup runs, all sent at once as tokio tasks on a multi-thread runtime,
//! through the handlers clients hit, on both stores. The final state is judged against a model
//! that knows, for each connection, every outcome some interleaving of its operations could give,
//! and against what holds under any interleaving: the tenant counters equal the sessions listed, no
//! session crosses tenants, each session ends once and is reported ended by exactly the call that
//! ended it, forced users' tokens are revoked and refuse a later connect.
//!
//! The DynamoDB cases run twice: with consistent indexes, and with indexes that lag writes as
//! AWS's do (the strict proxy's `gsiLagMs`). With lag, a forced offline's index read may miss a
//! session whose connect committed just before the revocation; the service's rule is that such a
//! session lives no longer than its token, ending at its next heartbeat or cleanup. So a lag run
//! lets one heartbeat interval pass after the race and sends one heartbeat on every connection of
//! a forced user that may be online ([`settle`]) before judging, as strictly as ever.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body as EventBody;
use futures::StreamExt;
use lambda_http::Body;
use message_center::domain::access::{Permission, TenantScope, TokenHash};
use message_center::domain::{OfflineReason, Session, SessionId, TenantId, Timestamp, UserId};
use message_center::http::query::{parse_session_query, ListMode};
use message_center::http::{self as api, Endpoint, BASE_PATH};
use message_center::service::cleanup::CleanupSettings;
use message_center::service::App;
use message_center::store::{MemoryStore, Opened, SessionCounts, Store};
use message_center::ws::{self, WsRoute};
use message_center_tests::dynamodb::{strict_store, StrictModel};
use message_center_tests::fixtures::token;
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::run_cleanup;
use proptest::collection::{btree_set, vec};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::{json, Value};

// ---- the world: tenants, users, their devices (one connection each) ----

/// How many tenants, users per tenant and devices per user a scenario has.
#[derive(Debug, Clone, Copy)]
struct Shape {
    tenants: usize,
    users: usize,
    devices: usize,
}

impl Shape {
    fn slots(self) -> impl Iterator<Item = Slot> {
        (0..self.tenants).flat_map(move |tenant| {
            (0..self.users).flat_map(move |user| (0..self.devices).map(move |device| Slot { tenant, user, device }))
        })
    }

    fn index(self, slot: Slot) -> usize {
        (slot.tenant * self.users + slot.user) * self.devices + slot.device
    }
}

/// One device of one user: one WebSocket connection id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Slot {
    tenant: usize,
    user: usize,
    device: usize,
}

fn tenant_id(tenant: usize) -> TenantId {
    TenantId(tenant as i64 + 1)
}

fn user_id(tenant: usize, user: usize) -> UserId {
    UserId(tenant_id(tenant).get() * 1000 + user as i64 + 1)
}

fn user_token(tenant: usize, user: usize) -> String {
    format!("user-{}", user_id(tenant, user))
}

fn admin_token(tenant: usize) -> String {
    format!("admin-{}", tenant_id(tenant))
}

/// A platform operator of a tenant no scenario forces offline.
const PLATFORM_TOKEN: &str = "platform-operator";
const PLATFORM_TENANT: i64 = 999;

impl Slot {
    fn connection_id(self) -> String {
        format!("conn-{}-{}-{}", self.tenant, self.user, self.device)
    }

    fn user_id(self) -> UserId {
        user_id(self.tenant, self.user)
    }
}

/// What a connection is before the race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Initial {
    /// Never seen.
    Absent,
    /// Online, last seen as the race starts.
    Online,
    /// Online, last seen an hour before the race: the cleanup ends it unless a heartbeat wins.
    Stale,
    /// Ended 40 days before the race: the cleanup deletes it.
    EndedLongAgo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Platform,
    TenantAdmin,
}

/// One client's (or the scheduler's) call.
#[derive(Debug, Clone)]
enum Op {
    Connect(Slot),
    Heartbeat(Slot),
    Disconnect(Slot),
    ForceUsers {
        tenant: usize,
        users: BTreeSet<usize>,
        by: Caller,
    },
    ForceTenant {
        tenant: usize,
        by: Caller,
    },
    Cleanup,
}

#[derive(Debug, Clone)]
struct Scenario {
    shape: Shape,
    /// By [`Shape::index`].
    initial: Vec<Initial>,
    ops: Vec<Op>,
}

// ---- generating scenarios ----

/// Relative weights of the operation kinds.
#[derive(Debug, Clone, Copy)]
struct Mix {
    connect: u32,
    heartbeat: u32,
    disconnect: u32,
    force_users: u32,
    force_tenant: u32,
    cleanup: u32,
}

/// Small scenarios: every kind often, so most cases race several kinds on one connection.
const CASE_MIX: Mix = Mix {
    connect: 30,
    heartbeat: 25,
    disconnect: 20,
    force_users: 10,
    force_tenant: 4,
    cleanup: 8,
};

/// The stress case: mostly clients, a few administrators and cleanup runs, so that many users
/// stay untouched by forced offline and the client races are judged strictly.
const STRESS_MIX: Mix = Mix {
    connect: 300,
    heartbeat: 560,
    disconnect: 90,
    force_users: 6,
    force_tenant: 1,
    cleanup: 6,
};

fn slot_strategy(shape: Shape) -> impl Strategy<Value = Slot> {
    (0..shape.tenants, 0..shape.users, 0..shape.devices).prop_map(|(tenant, user, device)| Slot {
        tenant,
        user,
        device,
    })
}

fn op_strategy(shape: Shape, mix: Mix) -> BoxedStrategy<Op> {
    let caller = || prop_oneof![Just(Caller::Platform), Just(Caller::TenantAdmin)];
    prop_oneof![
        mix.connect => slot_strategy(shape).prop_map(Op::Connect),
        mix.heartbeat => slot_strategy(shape).prop_map(Op::Heartbeat),
        mix.disconnect => slot_strategy(shape).prop_map(Op::Disconnect),
        mix.force_users => (0..shape.tenants, btree_set(0..shape.users, 1..=2), caller())
            .prop_map(|(tenant, users, by)| Op::ForceUsers { tenant, users, by }),
        mix.force_tenant => (0..shape.tenants, caller()).prop_map(|(tenant, by)| Op::ForceTenant { tenant, by }),
        mix.cleanup => Just(Op::Cleanup),
    ]
    .boxed()
}

fn initial_strategy() -> impl Strategy<Value = Initial> {
    prop_oneof![
        3 => Just(Initial::Absent),
        2 => Just(Initial::Online),
        1 => Just(Initial::Stale),
        1 => Just(Initial::EndedLongAgo),
    ]
}

fn scenario_strategy(
    tenants: std::ops::RangeInclusive<usize>,
    users: std::ops::RangeInclusive<usize>,
    devices: std::ops::RangeInclusive<usize>,
    ops: std::ops::RangeInclusive<usize>,
    mix: Mix,
) -> impl Strategy<Value = Scenario> {
    (tenants, users, devices).prop_flat_map(move |(tenants, users, devices)| {
        let shape = Shape {
            tenants,
            users,
            devices,
        };
        let slots = tenants * users * devices;
        (
            vec(initial_strategy(), slots),
            vec(op_strategy(shape, mix), ops.clone()),
        )
            .prop_map(move |(initial, ops)| Scenario { shape, initial, ops })
    })
}

// ---- running a scenario ----

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn seeded_session(slot: Slot, started: Timestamp, seen: Timestamp) -> Session {
    Session {
        id: SessionId::new_at(started),
        tenant_id: tenant_id(slot.tenant),
        user_id: slot.user_id(),
        full_name: format!("User {}", slot.user_id()),
        avatar: None,
        user_agent: Some("racing/1.0".into()),
        device_id: Some(format!("device-{}", slot.device)),
        remote_address: Some("203.0.113.9".into()),
        connection_id: slot.connection_id(),
        online_date: started,
        offline_date: None,
        last_seen_date: seen,
        offline_reason: None,
    }
}

/// Tokens for every user, each tenant's admin and the platform operator; the sessions of
/// `scenario.initial`, relative to `start`.
async fn seed(store: &dyn Store, scenario: &Scenario, start: Timestamp) {
    let shape = scenario.shape;
    let mut tokens = vec![token(
        PLATFORM_TOKEN,
        PLATFORM_TENANT,
        999_001,
        &[Permission::Offline],
        true,
    )];
    for tenant in 0..shape.tenants {
        let admin = tenant_id(tenant).get() * 1000 + 900;
        tokens.push(token(
            &admin_token(tenant),
            tenant_id(tenant).get(),
            admin,
            &[Permission::Offline],
            false,
        ));
        for user in 0..shape.users {
            tokens.push(token(
                &user_token(tenant, user),
                tenant_id(tenant).get(),
                user_id(tenant, user).get(),
                &[],
                false,
            ));
        }
    }
    // Several writes at once: moto answers one at a time, but the round trips overlap.
    futures::stream::iter(&tokens)
        .for_each_concurrent(SEEDING_IN_FLIGHT, |record| async move {
            store.put_token(record).await.unwrap();
        })
        .await;
    let sessions = shape.slots().filter_map(|slot| {
        let session = match scenario.initial[shape.index(slot)] {
            Initial::Absent => return None,
            Initial::Online => seeded_session(slot, start, start),
            Initial::Stale => seeded_session(slot, start.plus_secs(-HOUR), start.plus_secs(-HOUR)),
            Initial::EndedLongAgo => seeded_session(slot, start.plus_secs(-41 * DAY), start.plus_secs(-41 * DAY))
                .ended(start.plus_secs(-40 * DAY), OfflineReason::Disconnected),
        };
        Some((slot, session))
    });
    futures::stream::iter(sessions)
        .for_each_concurrent(SEEDING_IN_FLIGHT, |(slot, session)| async move {
            assert!(
                store.open_session(&session, None).await.unwrap() == Opened::Recorded,
                "seeding {slot:?}"
            );
        })
        .await;
}

/// Seeding writes in flight at once.
const SEEDING_IN_FLIGHT: usize = 16;
/// The judge's per-user reads in flight at once.
const JUDGING_IN_FLIGHT: usize = 16;

/// What a call answered.
#[derive(Debug, Clone)]
enum Observed {
    Connect {
        status: i64,
        session_id: Option<String>,
    },
    Heartbeat(Beat),
    Disconnect {
        ended: bool,
    },
    Force {
        status: u16,
        sessions: u64,
    },
    Cleanup {
        stale_ended: u64,
        /// Ended because their token was revoked (`FORCED`; no token of a scenario expires).
        token_ended: u64,
        deleted: u64,
    },
    /// An answer no interleaving explains (a 5xx, a store error, a malformed body).
    Broken(String),
}

/// How a heartbeat was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Beat {
    /// `HEARTBEAT_ACK`: the session is online and its token live.
    Acked,
    /// An `ERROR` notice: no online session rides on the connection.
    Refused,
    /// An empty answer: the session's token is revoked, so the heartbeat ended the session, sent
    /// `SESSION_ENDED` through the gateway and closed the connection. (When a racing call ended it
    /// first, the heartbeat is `Refused`.)
    Ended,
}

fn ws_event(connection_id: &str, query: &[(&str, String)], body: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    let mut event = ApiGatewayWebsocketProxyRequest::default();
    event.request_context.connection_id = Some(connection_id.to_owned());
    event.request_context.identity.source_ip = Some("198.51.100.7".into());
    event.query_string_parameters = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect::<HashMap<String, String>>()
        .into();
    event.body = body.map(str::to_owned);
    event
}

fn ws_body(response: &ApiGatewayProxyResponse) -> Option<Value> {
    match &response.body {
        Some(EventBody::Text(text)) => serde_json::from_str(text).ok(),
        _ => None,
    }
}

async fn connect(app: &App, connection_id: &str, token: String, device: usize) -> Observed {
    let event = ws_event(
        connection_id,
        &[("token", token), ("deviceId", format!("device-{device}"))],
        None,
    );
    let response = ws::handle(app, WsRoute::Connect, event).await;
    let session_id = ws_body(&response).and_then(|body| body["data"]["sessionId"].as_str().map(str::to_owned));
    Observed::Connect {
        status: response.status_code,
        session_id,
    }
}

async fn heartbeat(app: &App, slot: Slot) -> Observed {
    let event = ws_event(&slot.connection_id(), &[], Some(r#"{"action":"heartbeat"}"#));
    let response = ws::handle(app, WsRoute::Default, event).await;
    let empty = match &response.body {
        None | Some(EventBody::Empty) => true,
        Some(EventBody::Text(text)) => text.is_empty(),
        Some(EventBody::Binary(bytes)) => bytes.is_empty(),
        Some(_) => false,
    };
    if response.status_code == 200 && empty {
        return Observed::Heartbeat(Beat::Ended);
    }
    match ws_body(&response).as_ref().and_then(|b| b["type"].as_str()) {
        Some("HEARTBEAT_ACK") => Observed::Heartbeat(Beat::Acked),
        Some("ERROR") => Observed::Heartbeat(Beat::Refused),
        _ => Observed::Broken(format!("heartbeat answered {response:?}")),
    }
}

async fn force_offline(app: &App, by: Caller, tenant: usize, body: Value) -> Observed {
    let bearer = match by {
        Caller::Platform => PLATFORM_TOKEN.to_owned(),
        Caller::TenantAdmin => admin_token(tenant),
    };
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("{BASE_PATH}/off"))
        .header("Authorization", format!("Bearer {bearer}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = api::handle(app, Endpoint::Offline, request).await;
    let status = response.status().as_u16();
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    match status {
        200 => match body["data"]["sessions"].as_u64() {
            Some(sessions) => Observed::Force { status, sessions },
            None => Observed::Broken(format!("forced offline answered {body}")),
        },
        401 => Observed::Force { status, sessions: 0 },
        _ => Observed::Broken(format!("forced offline answered {status}: {body}")),
    }
}

async fn perform(app: &App, op: &Op) -> Observed {
    match op {
        Op::Connect(slot) => {
            connect(
                app,
                &slot.connection_id(),
                user_token(slot.tenant, slot.user),
                slot.device,
            )
            .await
        }
        Op::Heartbeat(slot) => heartbeat(app, *slot).await,
        Op::Disconnect(slot) => {
            let response = ws::handle(app, WsRoute::Disconnect, ws_event(&slot.connection_id(), &[], None)).await;
            match ws_body(&response).as_ref().and_then(|b| b["data"]["ended"].as_bool()) {
                Some(ended) if response.status_code == 200 => Observed::Disconnect { ended },
                _ => Observed::Broken(format!("disconnect answered {response:?}")),
            }
        }
        Op::ForceUsers { tenant, users, by } => {
            let ids: Vec<String> = users.iter().map(|u| user_id(*tenant, *u).to_string()).collect();
            let body = json!({"broadcast": true, "receiveObjectType": "USER", "receiveObjectIds": ids});
            force_offline(app, *by, *tenant, body).await
        }
        Op::ForceTenant { tenant, by } => {
            let body = json!({"broadcast": false, "receiveObjectType": "TENANT", "receiveObjectIds": [tenant_id(*tenant).get()]});
            force_offline(app, *by, *tenant, body).await
        }
        Op::Cleanup => {
            let deadline = Instant::now() + Duration::from_secs(600);
            match run_cleanup(app, &CleanupSettings::default(), Timestamp::now(), deadline).await {
                Ok(report) => Observed::Cleanup {
                    stale_ended: report.stale_ended,
                    token_ended: report.token_ended,
                    deleted: report.sessions_deleted,
                },
                Err(error) => Observed::Broken(format!("cleanup failed: {error}")),
            }
        }
    }
}

/// What judging a race found.
struct Verdict {
    /// Outcomes no interleaving explains; empty when the race went right.
    wrong: Vec<String>,
    /// How many connections ended in each final state, to show what a race exercised.
    finals: BTreeMap<String, usize>,
    /// Sessions the cleanup's token sweep ended in the race (their token revoked).
    swept: u64,
    /// Sessions heartbeats of the race ended for their revoked token: the `FORCED` ends no call
    /// reported (exact when the reporting calls are).
    beat_ends: u64,
    /// What the settle step did (lag runs only).
    settled: Option<Settled>,
}

/// How a race meets its store.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Operations in flight at once.
    in_flight: usize,
    /// The store's indexes show a write up to this long after it (`None`: at once).
    index_lag: Option<Duration>,
    /// On the one moto server of the test process: one race at a time ([`ONE_RACE_ON_MOTO`]).
    on_moto: bool,
}

/// Taken by each DynamoDB test of this file for its whole run. Moto answers one request at a
/// time, so two races at once (the test harness runs tests in parallel) each wait on the other's
/// requests and stretch over many times their own length: a race's interleavings are then the
/// other race's doing as much as its own.
static ONE_RACE_ON_MOTO: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How many operations are in flight at once on moto: its server accepts connections from a
/// queue of 128, and a burst of a thousand new connections overflows it (connects time out, the
/// store answers 503). Every operation is still spawned at once; they take turns past this many.
const MOTO_IN_FLIGHT: usize = 96;
/// Every operation running at once (the memory store has no server to overflow).
const ALL_AT_ONCE: usize = tokio::sync::Semaphore::MAX_PERMITS;

/// How far the lag runs' indexes trail the table: a random 0 to 1 s per write. AWS gives no bound
/// ("within a fraction of a second, under normal conditions"); a full second, against races of a
/// second or two, makes an index read of a race miss most writes of the second before it, more
/// than AWS normally shows. A larger lag would mostly stretch the waits.
const INDEX_LAG: Duration = Duration::from_millis(1000);

const MEMORY: Run = Run {
    in_flight: ALL_AT_ONCE,
    index_lag: None,
    on_moto: false,
};
const DYNAMODB: Run = Run {
    in_flight: MOTO_IN_FLIGHT,
    index_lag: None,
    on_moto: true,
};
/// The generated cases on lagging indexes: a few operations in flight at a time, so that a case's
/// operations spread over its race and a forced offline often reads the indexes within the lag
/// of a connect that committed just before it (all at once, the revocation mostly overtakes the
/// connects, which then fail their token check: nothing slips).
const DYNAMODB_WITH_INDEX_LAG: Run = Run {
    in_flight: LAG_CASE_IN_FLIGHT,
    index_lag: Some(INDEX_LAG),
    on_moto: true,
};
const LAG_CASE_IN_FLIGHT: usize = 8;
/// The stress case on lagging indexes: its 1,200 operations spread over the race anyway.
const DYNAMODB_STRESS_WITH_INDEX_LAG: Run = Run {
    in_flight: MOTO_IN_FLIGHT,
    index_lag: Some(INDEX_LAG),
    on_moto: true,
};

/// Seeds a fresh store, spawns every operation at once (each its own task, at most
/// `run.in_flight` running) and judges the end state against the model; with index lag, seeding
/// is a lag old when the race starts, and the race is settled ([`settle`]) before it is judged.
async fn race(store: Arc<dyn Store>, scenario: &Scenario, run: Run) -> Verdict {
    let start = Timestamp::now();
    seed(store.as_ref(), scenario, start).await;
    if let Some(lag) = run.index_lag {
        // Seeded data is old in reality: every index shows it before the race.
        tokio::time::sleep(lag).await;
    }
    let app = App {
        store: store.clone(),
        gateway: Arc::new(RecordingGateway::default()),
        // The default per-user connect limit (30 a minute) is never reached: a user records at
        // most one session per device (3) in a scenario, and only recorded sessions count.
        config: Default::default(),
    };
    let turns = Arc::new(tokio::sync::Semaphore::new(run.in_flight));
    let tasks: Vec<_> = scenario
        .ops
        .iter()
        .cloned()
        .map(|op| {
            let (app, turns) = (app.clone(), turns.clone());
            tokio::spawn(async move {
                let _turn = turns.acquire().await;
                perform(&app, &op).await
            })
        })
        .collect();
    let observed: Vec<Observed> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|joined| joined.unwrap_or_else(|e| Observed::Broken(format!("the task panicked: {e}"))))
        .collect();
    let settled = match run.index_lag {
        None => None,
        Some(lag) => {
            // One heartbeat interval passes (longer than the lag), then each client that may be
            // online heartbeats once. The judge reads the indexes for which sessions are online
            // and whose they are: when a settle heartbeat ended a session, they catch up first.
            // (A heartbeat that only moved `lastSeenDate` changes no index's membership, and the
            // sessions judged come from the table itself.)
            tokio::time::sleep(lag).await;
            let settled = settle(&app, scenario).await;
            if !settled.ended.is_empty() {
                tokio::time::sleep(lag).await;
            }
            Some(settled)
        }
    };
    judge(&app, scenario, &observed, settled, start).await
}

/// What the settle step of a lag run did.
#[derive(Debug, Default)]
struct Settled {
    /// Heartbeats sent: one on each connection of a forced user that may have been online.
    beats: usize,
    /// Connections whose session the settle heartbeat ended (`FORCED`, its token being revoked):
    /// the sessions a forced offline's lagging index read let slip. The settle step reports these
    /// ends, as the one call that made each.
    ended: BTreeSet<Slot>,
    /// Answers that are wrong whatever the store holds.
    wrong: Vec<String>,
}

/// After a race on lagging indexes, lets the rule "a session lives no longer than its token" do
/// its work: one heartbeat on the connection of every slot whose user was forced offline (by
/// `USER` ids or `TENANT`) and that the model allows to have been online. Each heartbeat that
/// finds an online session with a revoked token ends it (`FORCED`), tells the client
/// `SESSION_ENDED` through the gateway and closes the connection, answering empty. One at a time
/// per connection, and nothing else runs: an empty answer is an end this heartbeat made.
async fn settle(app: &App, scenario: &Scenario) -> Settled {
    let shape = scenario.shape;
    let model = Model::of(scenario);
    let slots: Vec<Slot> = shape
        .slots()
        .filter(|slot| model.touches[slot].forced && model.may_be_online(*slot, scenario.initial[shape.index(*slot)]))
        .collect();
    let gateway = Arc::new(RecordingGateway::with_live(slots.iter().map(|s| s.connection_id())));
    let settling = App {
        store: app.store.clone(),
        gateway: gateway.clone(),
        config: app.config.clone(),
    };
    let answers = futures::future::join_all(slots.iter().map(|slot| heartbeat(&settling, *slot))).await;
    let mut settled = Settled {
        beats: slots.len(),
        ..Settled::default()
    };
    let (sent, closed) = (gateway.sent(), gateway.closed());
    for (slot, answer) in slots.into_iter().zip(answers) {
        let connection = slot.connection_id();
        match answer {
            Observed::Heartbeat(Beat::Ended) => {
                let told = sent.iter().any(|(to, message)| {
                    let notice: Value = serde_json::from_str(message).unwrap_or(Value::Null);
                    *to == connection
                        && notice["type"] == "SESSION_ENDED"
                        && notice["reason"] == OfflineReason::Forced.as_str()
                });
                if !told || !closed.contains(&connection) {
                    settled.wrong.push(format!(
                        "{slot:?}: the settle heartbeat ended its session, but sent {sent:?} and closed {closed:?}"
                    ));
                }
                settled.ended.insert(slot);
            }
            // An online session of a forced user; the final state's check says so.
            Observed::Heartbeat(Beat::Acked | Beat::Refused) => {}
            other => settled
                .wrong
                .push(format!("the settle heartbeat on {slot:?} answered {other:?}")),
        }
    }
    settled
}

// ---- the model ----

/// A connection's session at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Final {
    /// No session (never opened, or deleted by the cleanup).
    Absent,
    Online,
    Ended(OfflineReason),
}

/// What the operations of a scenario do to one connection and its user.
#[derive(Debug, Default, Clone, Copy)]
struct Touches {
    connects: usize,
    heartbeat: bool,
    disconnect: bool,
    /// A forced offline targets the user (by id or by tenant).
    forced: bool,
}

/// What the scenario's operations, taken together, do to each connection and user.
struct Model {
    touches: BTreeMap<Slot, Touches>,
    forced_users: BTreeSet<(usize, usize)>,
    /// Forced offline calls by `TENANT`, per tenant.
    tenant_forces: BTreeMap<usize, usize>,
    cleanup: bool,
}

impl Model {
    fn of(scenario: &Scenario) -> Model {
        let shape = scenario.shape;
        let mut forced_users = BTreeSet::new();
        let mut tenant_forces = BTreeMap::new();
        let mut touches: BTreeMap<Slot, Touches> = shape.slots().map(|s| (s, Touches::default())).collect();
        for op in &scenario.ops {
            match op {
                Op::Connect(slot) => touches.get_mut(slot).unwrap().connects += 1,
                Op::Heartbeat(slot) => touches.get_mut(slot).unwrap().heartbeat = true,
                Op::Disconnect(slot) => touches.get_mut(slot).unwrap().disconnect = true,
                Op::ForceUsers { tenant, users, .. } => forced_users.extend(users.iter().map(|u| (*tenant, *u))),
                Op::ForceTenant { tenant, .. } => {
                    *tenant_forces.entry(*tenant).or_insert(0) += 1;
                    forced_users.extend((0..shape.users).map(|u| (*tenant, u)));
                }
                Op::Cleanup => {}
            }
        }
        for (slot, touch) in touches.iter_mut() {
            touch.forced = forced_users.contains(&(slot.tenant, slot.user));
        }
        Model {
            touches,
            forced_users,
            tenant_forces,
            cleanup: scenario.ops.iter().any(|op| matches!(op, Op::Cleanup)),
        }
    }

    /// Every final state some interleaving could leave on a connection that started as `initial`.
    fn allowed(&self, slot: Slot, initial: Initial) -> Vec<Final> {
        let touch = self.touches[&slot];
        let mut allowed = Vec::new();
        match initial {
            Initial::Absent if touch.connects == 0 => allowed.push(Final::Absent),
            Initial::Absent => {
                // Refused: the disconnect's tombstone came first, or the token was revoked first.
                if touch.disconnect || touch.forced {
                    allowed.push(Final::Absent);
                }
                if !touch.disconnect && !touch.forced {
                    // A connect racing a forced offline of its user never stays online: its session
                    // is recorded only while its token is unrevoked, and the forced offline reads
                    // the online sessions after revoking, so it either ends it or refuses it.
                    allowed.push(Final::Online);
                }
                if touch.disconnect {
                    allowed.push(Final::Ended(OfflineReason::Disconnected));
                }
                if touch.forced {
                    allowed.push(Final::Ended(OfflineReason::Forced));
                }
                // A fresh session is never stale: the cleanup's cutoff is 600 s before it runs.
            }
            Initial::Online | Initial::Stale => {
                let stale_end = initial == Initial::Stale && self.cleanup;
                // Online only when nothing must end it: a stale session stays when a heartbeat may
                // beat the cleanup.
                if !touch.disconnect && !touch.forced && (!stale_end || touch.heartbeat) {
                    allowed.push(Final::Online);
                }
                if touch.disconnect {
                    allowed.push(Final::Ended(OfflineReason::Disconnected));
                }
                if touch.forced {
                    allowed.push(Final::Ended(OfflineReason::Forced));
                }
                if stale_end {
                    allowed.push(Final::Ended(OfflineReason::Stale));
                }
            }
            Initial::EndedLongAgo if self.cleanup => allowed.push(Final::Absent),
            Initial::EndedLongAgo => allowed.push(Final::Ended(OfflineReason::Disconnected)),
        }
        allowed
    }

    /// Whether some interleaving leaves the connection with an online session at some moment.
    fn may_be_online(&self, slot: Slot, initial: Initial) -> bool {
        match initial {
            Initial::Online | Initial::Stale => true,
            Initial::Absent => self.touches[&slot].connects > 0,
            Initial::EndedLongAgo => false,
        }
    }

    /// Whether the tenant admin's token may have been revoked under `op`, a call of its own: by
    /// another forced offline of the whole tenant.
    fn admin_may_be_revoked(&self, tenant: usize, op: &Op) -> bool {
        let own = usize::from(matches!(op, Op::ForceTenant { .. }));
        self.tenant_forces.get(&tenant).copied().unwrap_or(0) > own
    }
}

// ---- judging the end state ----

async fn listed(store: &dyn Store, scope: TenantScope, query: &str) -> Vec<Session> {
    let query = parse_session_query(query, ListMode::List).unwrap();
    store.list_sessions(scope, &query).await.unwrap().sessions
}

/// Judges the end state after `observed` (and, in a lag run, after `settled`).
async fn judge(
    app: &App,
    scenario: &Scenario,
    observed: &[Observed],
    settled: Option<Settled>,
    start: Timestamp,
) -> Verdict {
    let store = app.store.as_ref();
    let shape = scenario.shape;
    let model = Model::of(scenario);
    let mut wrong = settled.as_ref().map(|s| s.wrong.clone()).unwrap_or_default();
    let slot_of: HashMap<String, Slot> = shape.slots().map(|s| (s.connection_id(), s)).collect();

    // Every session, tenant by tenant, with the counters and the indexes agreeing.
    let mut sessions: BTreeMap<Slot, Session> = BTreeMap::new();
    let mut totals = SessionCounts::default();
    const EVERY: &str = "pageSize=2000&infoScope=DETAIL";
    for tenant in 0..shape.tenants {
        let scope = TenantScope::Tenant(tenant_id(tenant));
        let all = listed(store, scope, EVERY).await;
        let online = listed(store, scope, "pageSize=2000&online=true").await;
        let actual = SessionCounts {
            sessions: all.len() as u64,
            online: all.iter().filter(|s| s.online()).count() as u64,
        };
        let counted = store.session_counts(scope).await.unwrap();
        if counted != actual || online.len() as u64 != actual.online {
            wrong.push(format!(
                "tenant {tenant}: counters say {counted:?}, listed {actual:?}, online listing {}",
                online.len()
            ));
        }
        totals.sessions += actual.sessions;
        totals.online += actual.online;
        for session in all {
            match slot_of.get(&session.connection_id) {
                Some(slot)
                    if slot.tenant == tenant
                        && session.tenant_id == tenant_id(tenant)
                        && session.user_id == slot.user_id() =>
                {
                    if let Some(twin) = sessions.insert(*slot, session.clone()) {
                        wrong.push(format!("two sessions on {slot:?}: {twin:?} and {session:?}"));
                    }
                }
                _ => wrong.push(format!("tenant {tenant} lists a session not its own: {session:?}")),
            }
        }
    }
    // Each user's sessions through the per-user indexes: from its own tenant, the ones listed;
    // from every other tenant, none. Several queries at once: the round trips to moto overlap.
    let asks: Vec<(usize, usize, usize)> = (0..shape.tenants)
        .flat_map(|tenant| {
            (0..shape.users).flat_map(move |user| (0..shape.tenants).map(move |from| (tenant, user, from)))
        })
        .collect();
    let answers: Vec<Vec<Session>> = futures::stream::iter(&asks)
        .map(|&(tenant, user, from)| async move {
            store
                .user_sessions(TenantScope::Tenant(tenant_id(from)), user_id(tenant, user), 1000)
                .await
                .unwrap()
        })
        .buffered(JUDGING_IN_FLIGHT)
        .collect()
        .await;
    for (&(tenant, user, from), found) in asks.iter().zip(answers) {
        let uid = user_id(tenant, user);
        if from == tenant {
            let mine: BTreeSet<SessionId> = found.iter().map(|s| s.id).collect();
            let expected: BTreeSet<SessionId> = sessions
                .iter()
                .filter(|(slot, _)| slot.tenant == tenant && slot.user == user)
                .map(|(_, s)| s.id)
                .collect();
            if mine != expected {
                wrong.push(format!("user {uid}: user_sessions {mine:?}, listed {expected:?}"));
            }
        } else if !found.is_empty() {
            wrong.push(format!(
                "user {uid} of tenant {tenant} shows under tenant {from}: {found:?}"
            ));
        }
    }
    let everywhere = store.session_counts(TenantScope::All).await.unwrap();
    let listed_everywhere = listed(store, TenantScope::All, EVERY).await.len() as u64;
    if everywhere != totals || listed_everywhere != totals.sessions {
        wrong.push(format!(
            "every tenant: counters say {everywhere:?}, tenants sum to {totals:?}, listed {listed_everywhere}"
        ));
    }

    // Each connection's end state is one the model allows, with times and reason that fit.
    let final_of = |slot: Slot| match sessions.get(&slot) {
        None => Final::Absent,
        Some(s) if s.online() => Final::Online,
        Some(s) => Final::Ended(s.offline_reason.expect("an ended session has a reason")),
    };
    let mut ended_by = BTreeMap::<&str, u64>::new();
    let mut finals = BTreeMap::new();
    for slot in shape.slots() {
        let initial = scenario.initial[shape.index(slot)];
        let now = final_of(slot);
        *finals.entry(format!("{now:?}")).or_insert(0) += 1;
        let allowed = model.allowed(slot, initial);
        if !allowed.contains(&now) {
            wrong.push(format!(
                "{slot:?} (initially {initial:?}, {:?}) ended as {now:?}; allowed {allowed:?}",
                model.touches[&slot]
            ));
        }
        if let Some(session) = sessions.get(&slot) {
            if session.offline_date.is_some_and(|off| off < session.online_date)
                || session.last_seen_date < session.online_date
                || session.offline_date.is_some() != session.offline_reason.is_some()
            {
                wrong.push(format!("{slot:?}: times or reason out of order: {session:?}"));
            }
            if initial != Initial::EndedLongAgo && session.offline_date.is_some_and(|off| off < start) {
                wrong.push(format!("{slot:?}: ended before the race began: {session:?}"));
            }
        }
        if initial != Initial::EndedLongAgo {
            if let Final::Ended(reason) = now {
                *ended_by.entry(reason.as_str()).or_default() += 1;
            }
        }
    }

    // Each answer is one an interleaving gives, and each end is reported by the one call that made it.
    let mut reported = BTreeMap::<&str, u64>::new();
    let mut deleted = 0;
    let mut opened: BTreeMap<Slot, Vec<String>> = BTreeMap::new();
    let mut disconnects_ended: BTreeMap<Slot, u64> = BTreeMap::new();
    let mut acked: BTreeSet<Slot> = BTreeSet::new();
    // Connections a heartbeat of the race found online with a revoked token: it ended the
    // session, or a racing forced offline or cleanup did (the heartbeat answers the same).
    let mut beat_ended: BTreeSet<Slot> = BTreeSet::new();
    let mut swept = 0;
    for (op, seen) in scenario.ops.iter().zip(observed) {
        match (op, seen) {
            (Op::Connect(slot), Observed::Connect { status, session_id }) => {
                let touch = model.touches[slot];
                let initial = scenario.initial[shape.index(*slot)];
                let explained = match status {
                    200 => {
                        opened
                            .entry(*slot)
                            .or_default()
                            .push(session_id.clone().unwrap_or_default());
                        initial == Initial::Absent
                    }
                    400 => initial != Initial::Absent || touch.disconnect || touch.connects > 1,
                    401 => touch.forced,
                    _ => false,
                };
                if !explained {
                    wrong.push(format!(
                        "connect of {slot:?} (initially {initial:?}, {touch:?}) answered {status}"
                    ));
                }
            }
            (Op::Heartbeat(slot), Observed::Heartbeat(Beat::Acked)) => {
                acked.insert(*slot);
            }
            (Op::Heartbeat(_), Observed::Heartbeat(Beat::Refused)) => {}
            (Op::Heartbeat(slot), Observed::Heartbeat(Beat::Ended)) => {
                beat_ended.insert(*slot);
            }
            (Op::Disconnect(slot), Observed::Disconnect { ended }) => {
                *disconnects_ended.entry(*slot).or_default() += u64::from(*ended);
            }
            (
                Op::ForceUsers { tenant, by, .. } | Op::ForceTenant { tenant, by },
                Observed::Force { status, sessions },
            ) => {
                if *status == 401 && !(*by == Caller::TenantAdmin && model.admin_may_be_revoked(*tenant, op)) {
                    wrong.push(format!("{op:?} answered 401"));
                }
                *reported.entry(OfflineReason::Forced.as_str()).or_default() += sessions;
            }
            (
                Op::Cleanup,
                Observed::Cleanup {
                    stale_ended,
                    token_ended,
                    deleted: gone,
                },
            ) => {
                *reported.entry(OfflineReason::Stale.as_str()).or_default() += stale_ended;
                // No token of a scenario expires or is deleted: a token sweep's ends are `FORCED`.
                *reported.entry(OfflineReason::Forced.as_str()).or_default() += token_ended;
                swept += token_ended;
                deleted += gone;
            }
            (op, Observed::Broken(why)) => wrong.push(format!("{op:?}: {why}")),
            (op, seen) => wrong.push(format!("{op:?} answered {seen:?}")),
        }
    }
    for slot in shape.slots() {
        let initial = scenario.initial[shape.index(slot)];
        let session = sessions.get(&slot);
        let ids = opened.get(&slot).cloned().unwrap_or_default();
        let expected_ids: Vec<String> = match (initial, session) {
            (Initial::Absent, Some(session)) => vec![session.id.to_string()],
            _ => Vec::new(),
        };
        if ids != expected_ids {
            wrong.push(format!(
                "{slot:?}: connects answered sessions {ids:?}, the store holds {session:?}"
            ));
        }
        let was_online = matches!(initial, Initial::Online | Initial::Stale) || !ids.is_empty();
        if acked.contains(&slot) && !was_online {
            wrong.push(format!(
                "{slot:?}: a heartbeat was acknowledged on a connection never online"
            ));
        }
        // Only a session a connect opened with a token ends with it (seeded ones have none), and
        // only a forced user's token is revoked. A heartbeat that says so, of the race or of the
        // settle step, ended the session itself (one that lost the end to a racing call is
        // answered as on an ended session): `FORCED`.
        let touch = model.touches[&slot];
        let beat_says_ended = beat_ended.contains(&slot);
        if beat_says_ended && (ids.is_empty() || !touch.forced || final_of(slot) != Final::Ended(OfflineReason::Forced))
        {
            wrong.push(format!(
                "{slot:?} (initially {initial:?}, {touch:?}): a heartbeat of the race said its session ended \
                 for its token, connects opened {ids:?}, it is {:?}",
                final_of(slot)
            ));
        }
        let settle_ended = settled.as_ref().is_some_and(|s| s.ended.contains(&slot));
        if settle_ended && (ids.is_empty() || !touch.forced || final_of(slot) != Final::Ended(OfflineReason::Forced)) {
            wrong.push(format!(
                "{slot:?} (initially {initial:?}, {touch:?}): the settle heartbeat ended its session for its \
                 token, connects opened {ids:?}, it is {:?}",
                final_of(slot)
            ));
        }
        let disconnected =
            initial != Initial::EndedLongAgo && final_of(slot) == Final::Ended(OfflineReason::Disconnected);
        let reported_ended = disconnects_ended.get(&slot).copied().unwrap_or(0);
        if reported_ended != u64::from(disconnected) {
            wrong.push(format!(
                "{slot:?}: {reported_ended} disconnects said they ended it, it is {:?}",
                final_of(slot)
            ));
        }
    }
    // The settle step reports the ends its heartbeats made, one call each.
    let settle_ends = settled.as_ref().map_or(0, |s| s.ended.len() as u64);
    *reported.entry(OfflineReason::Forced.as_str()).or_default() += settle_ends;
    // A heartbeat of the race that answered empty ended its session for its revoked token (one
    // that lost to a racing call is answered as on an ended session): those `FORCED` ends are the
    // heartbeats' own, and no other call reports them.
    let beat_ends = beat_ended.len() as u64;
    for reason in [OfflineReason::Forced, OfflineReason::Stale] {
        let made = ended_by.get(reason.as_str()).copied().unwrap_or(0);
        let told = reported.get(reason.as_str()).copied().unwrap_or(0);
        let by_heartbeats = match reason {
            OfflineReason::Forced => beat_ends,
            _ => 0,
        };
        if made != told + by_heartbeats {
            wrong.push(format!(
                "{} sessions: {made} in the store, {told} reported by the calls that end and report, \
                 {by_heartbeats} ended by heartbeats of the race for their token",
                reason.as_str()
            ));
        }
    }
    let long_ago_gone = shape
        .slots()
        .filter(|s| scenario.initial[shape.index(*s)] == Initial::EndedLongAgo && !sessions.contains_key(s))
        .count() as u64;
    if deleted != long_ago_gone {
        wrong.push(format!(
            "the cleanup reported {deleted} deleted, {long_ago_gone} are gone"
        ));
    }

    // Tokens: a forced user's are revoked (and refuse a connect), everyone else's are not.
    for tenant in 0..shape.tenants {
        let admin_revoked = model.tenant_forces.contains_key(&tenant);
        let mut expected = vec![(admin_token(tenant), admin_revoked)];
        for user in 0..shape.users {
            let forced = model.forced_users.contains(&(tenant, user));
            expected.push((user_token(tenant, user), forced));
        }
        for (secret, revoked) in expected {
            let record = store.token(&TokenHash::of(&secret)).await.unwrap();
            if record.as_ref().map(|t| t.revoked_at.is_some()) != Some(revoked) {
                wrong.push(format!("token {secret}: revoked should be {revoked}, is {record:?}"));
            }
        }
    }
    let before = store.session_counts(TenantScope::All).await.unwrap();
    for (tenant, user) in &model.forced_users {
        let late = connect(app, &format!("late-{tenant}-{user}"), user_token(*tenant, *user), 0).await;
        if !matches!(late, Observed::Connect { status: 401, .. }) {
            wrong.push(format!(
                "a connect with the revoked token of user {} answered {late:?}",
                user_id(*tenant, *user)
            ));
        }
    }
    if store.session_counts(TenantScope::All).await.unwrap() != before {
        wrong.push("a refused connect left a session".into());
    }
    Verdict {
        wrong,
        finals,
        swept,
        beat_ends,
        settled,
    }
}

// ---- the tests ----

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// What a lag run's settle steps found, over its races.
#[derive(Debug)]
struct Slips {
    /// Settle heartbeats sent.
    beats: usize,
    /// Sessions the lagging index reads let slip past the race, ended by the settle heartbeats.
    ended: usize,
    /// Ended in the races for their revoked token by the cleanup's token sweep...
    swept: u64,
    /// ... and by heartbeats.
    beat_ends: u64,
    /// The proxy's count of index entries the lag hid or showed stale, when the run began.
    lag_hidden_before: u64,
}

impl Slips {
    fn new() -> Self {
        Slips {
            beats: 0,
            ended: 0,
            swept: 0,
            beat_ends: 0,
            lag_hidden_before: lag_hidden(),
        }
    }

    fn add(&mut self, verdict: &Verdict) {
        if let Some(settled) = &verdict.settled {
            self.beats += settled.beats;
            self.ended += settled.ended.len();
        }
        self.swept += verdict.swept;
        self.beat_ends += verdict.beat_ends;
    }

    /// The line a lag run prints (the figures `docs/reliability.md` quotes).
    fn line(&self, label: &str) -> String {
        format!(
            "racing {label}: {} sessions the lagging index reads let slip past the race were ended by \
             the settle heartbeats ({} sent); in the races, {} more ended for their revoked token (the \
             cleanup's token sweep {}, heartbeats {}); index entries the lag hid or showed stale: {}",
            self.ended,
            self.beats,
            self.swept + self.beat_ends,
            self.swept,
            self.beat_ends,
            lag_hidden().saturating_sub(self.lag_hidden_before)
        )
    }
}

/// The strict proxy's count of index entries its lag hid or showed stale (all its tables; this
/// file's races on moto run one at a time).
fn lag_hidden() -> u64 {
    message_center_tests::dynamodb::proxy_stats()["lagHidden"]
        .as_u64()
        .unwrap_or_default()
}

/// Runs `cases` generated scenarios on stores from `fresh`, with a fixed seed and no failure
/// file, so a run is repeatable; prints the counts the issue note quotes.
fn generated_races<S, F>(label: &str, cases: u32, run: Run, fresh: F)
where
    S: Store,
    F: Fn() -> futures::future::BoxFuture<'static, S>,
{
    let runtime = runtime();
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config.clone(), TestRng::deterministic_rng(config.rng_algorithm));
    let (ran, ops) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let _turn = run.on_moto.then(|| ONE_RACE_ON_MOTO.blocking_lock());
    let slips = run.index_lag.map(|_| std::sync::Mutex::new(Slips::new()));
    let started = Instant::now();
    let strategy = scenario_strategy(2..=3, 2..=4, 1..=3, 1..=40, CASE_MIX);
    let result = runner.run(&strategy, |scenario| {
        let store: Arc<dyn Store> = Arc::new(runtime.block_on(fresh()));
        let verdict = runtime.block_on(race(store, &scenario, run));
        ran.fetch_add(1, Ordering::Relaxed);
        ops.fetch_add(scenario.ops.len(), Ordering::Relaxed);
        if let Some(slips) = &slips {
            slips.lock().unwrap().add(&verdict);
        }
        let wrong = verdict.wrong;
        prop_assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong.join("\n"));
        Ok(())
    });
    eprintln!(
        "racing {label}: {} scenarios, {} operations raced, in {:.1?}",
        ran.into_inner(),
        ops.into_inner(),
        started.elapsed()
    );
    if let Some(slips) = slips {
        eprintln!("{}", slips.into_inner().unwrap().line(label));
    }
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// 1,200 operations at once over 3 tenants x 10 users x 3 devices, from a fixed seed.
fn stress_scenario() -> Scenario {
    let strategy = scenario_strategy(3..=3, 10..=10, 3..=3, 1200..=1200, STRESS_MIX);
    let scenario = strategy.new_tree(&mut TestRunner::deterministic()).unwrap().current();
    let kinds: BTreeSet<&str> = scenario
        .ops
        .iter()
        .map(|op| match op {
            Op::Connect(_) => "connect",
            Op::Heartbeat(_) => "heartbeat",
            Op::Disconnect(_) => "disconnect",
            Op::ForceUsers { .. } => "force users",
            Op::ForceTenant { .. } => "force tenant",
            Op::Cleanup => "cleanup",
        })
        .collect();
    assert_eq!(
        kinds.len(),
        6,
        "the stress case races every kind of operation: {kinds:?}"
    );
    scenario
}

async fn stress(label: &str, store: Arc<dyn Store>, run: Run) {
    let scenario = stress_scenario();
    let _turn = if run.on_moto {
        Some(ONE_RACE_ON_MOTO.lock().await)
    } else {
        None
    };
    let mut slips = run.index_lag.map(|_| Slips::new());
    let started = Instant::now();
    let verdict = race(store, &scenario, run).await;
    let wrong = &verdict.wrong;
    eprintln!(
        "racing {label} stress: {} operations raced, {} wrong, in {:.1?}; connections ended as {:?}",
        scenario.ops.len(),
        wrong.len(),
        started.elapsed(),
        verdict.finals
    );
    if let Some(slips) = &mut slips {
        slips.add(&verdict);
        eprintln!("{}", slips.line(&format!("{label} stress")));
    }
    assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong.join("\n"));
}

/// A store whose indexes lag writes by up to [`INDEX_LAG`], every other AWS model on.
async fn lagging_store() -> message_center::store::DynamoStore {
    strict_store(StrictModel::aws(INDEX_LAG.as_millis() as u64)).await
}

#[test]
fn generated_races_on_memory() {
    generated_races("memory", 256, MEMORY, || Box::pin(async { MemoryStore::new() }));
}

#[test]
fn generated_races_on_dynamodb() {
    generated_races("dynamodb", 24, DYNAMODB, || {
        Box::pin(message_center_tests::dynamodb::fresh_store())
    });
}

/// Fewer cases than with consistent indexes: each waits the lag two or three times (after
/// seeding, before the settle heartbeats, and after them when they ended a session), and with lag
/// the proxy reads every written item twice more.
#[test]
fn generated_races_on_dynamodb_with_index_lag() {
    generated_races("dynamodb with index lag", 12, DYNAMODB_WITH_INDEX_LAG, || {
        Box::pin(lagging_store())
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_on_memory() {
    stress("memory", Arc::new(MemoryStore::new()), MEMORY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_on_dynamodb() {
    stress(
        "dynamodb",
        Arc::new(message_center_tests::dynamodb::fresh_store().await),
        DYNAMODB,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_on_dynamodb_with_index_lag() {
    stress(
        "dynamodb with index lag",
        Arc::new(lagging_store().await),
        DYNAMODB_STRESS_WITH_INDEX_LAG,
    )
    .await;
}
