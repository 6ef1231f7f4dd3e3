//! Demo data for a local run: two tenants, a few dozen users with online and ended sessions on
//! several devices, and one token for each kind of caller. The same every run (a fixed seed), but
//! for times, which are relative to now. [`run_clients`] then keeps it lively: its clients
//! heartbeat, come and go.

use std::sync::Arc;
use std::time::Duration;

use message_center::domain::access::{Permission, TokenHash, TokenRecord};
use message_center::domain::{OfflineReason, Session, SessionId, TenantId, Timestamp, UserId};
use message_center::store::Store;
use message_center::StoreError;

/// A demo token: who it is for, and the token itself (printed at start-up).
pub struct DemoToken {
    pub role: &'static str,
    pub token: &'static str,
    pub record: TokenRecord,
}

const ALL_PERMISSIONS: [Permission; 3] = [Permission::List, Permission::Detail, Permission::Offline];

fn record(token: &str, tenant: i64, user: i64, name: &str, permissions: &[Permission], platform: bool) -> TokenRecord {
    TokenRecord {
        hash: TokenHash::of(token),
        user_id: UserId(user),
        tenant_id: TenantId(tenant),
        full_name: name.to_owned(),
        avatar: None,
        permissions: permissions.iter().map(|p| p.name().to_owned()).collect(),
        platform,
        expires_at: None,
        revoked_at: None,
    }
}

/// The demo callers: a platform operator, an admin per tenant, a tenant-1 user without permissions.
pub fn tokens() -> Vec<DemoToken> {
    vec![
        DemoToken {
            role: "platform operator (every tenant)",
            token: "demo-platform-operator",
            record: record(
                "demo-platform-operator",
                1,
                1,
                "Platform Operator",
                &ALL_PERMISSIONS,
                true,
            ),
        },
        DemoToken {
            role: "admin of tenant 1",
            token: "demo-admin-tenant-1",
            record: record(
                "demo-admin-tenant-1",
                1,
                1000,
                "Tenant 1 Admin",
                &ALL_PERMISSIONS,
                false,
            ),
        },
        DemoToken {
            role: "admin of tenant 2",
            token: "demo-admin-tenant-2",
            record: record(
                "demo-admin-tenant-2",
                2,
                2000,
                "Tenant 2 Admin",
                &ALL_PERMISSIONS,
                false,
            ),
        },
        DemoToken {
            role: "user of tenant 1 without permissions",
            token: "demo-user-no-permissions",
            record: record("demo-user-no-permissions", 1, 1001, "Ada Lovelace", &[], false),
        },
    ]
}

const NAMES: [&str; 18] = [
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Margaret Hamilton",
    "Ken Thompson",
    "Frances Allen",
    "John Backus",
    "Radia Perlman",
    "Tony Hoare",
    "Katherine Johnson",
    "Niklaus Wirth",
    "Sophie Wilson",
    "Dennis Ritchie",
    "Hedy Lamarr",
    "Leslie Lamport",
];

/// `(device id, user agent)` pairs.
const DEVICES: [(&str, &str); 4] = [
    (
        "web-chrome",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0 Safari/537.36",
    ),
    ("iphone", "MessageCenter/3.2 (iPhone; iOS 19.1)"),
    ("android", "MessageCenter/3.2 (Linux; Android 16; Pixel 9)"),
    ("mac-desktop", "MessageCenter-Desktop/3.2 (Macintosh; macOS 16.1)"),
];

/// A small deterministic generator, so the demo is the same every run.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }
}

/// The demo sessions: 18 users in each of tenants 1 and 2 (ids 1001… and 2001…), one to three
/// sessions each over the last two days, about half the users online on one or two devices.
pub fn sessions(now: Timestamp) -> Vec<Session> {
    let mut dice = Dice(0x5eed_cafe_f00d);
    let mut sessions = Vec::new();
    for tenant in [1i64, 2] {
        for n in 0..NAMES.len() {
            let user = tenant * 1000 + 1 + n as i64;
            let count = 1 + dice.roll(3);
            for k in 0..count {
                let started = now.plus_secs(-((dice.roll(48 * 60) as i64 + 1) * 60 + k as i64));
                let online = n % 2 == 0 && k == 0 || dice.roll(5) == 0;
                let mut session = demo_session(&mut dice, tenant, n, format!("demo-{user}-{k}"), started);
                if online {
                    // Seen within the stale period, so a cleanup does not end it at once.
                    session.last_seen_date = now.plus_secs(-(dice.roll(300) as i64));
                } else {
                    let lasted = 60 + dice.roll(4 * 3600) as i64;
                    let reason = [
                        OfflineReason::Disconnected,
                        OfflineReason::Disconnected,
                        OfflineReason::Forced,
                        OfflineReason::Stale,
                    ][dice.roll(4) as usize];
                    session = session.ended(started.plus_secs(lasted).min(now), reason);
                    session.last_seen_date = session.offline_date.unwrap_or(started);
                }
                sessions.push(session);
            }
        }
    }
    sessions
}

/// An online session of the `n`th demo user of `tenant`, started at `started`, on a device the
/// dice pick.
fn demo_session(dice: &mut Dice, tenant: i64, n: usize, connection_id: String, started: Timestamp) -> Session {
    let user = tenant * 1000 + 1 + n as i64;
    let (device, agent) = DEVICES[dice.roll(DEVICES.len() as u64) as usize];
    Session {
        id: SessionId::new_at(started),
        tenant_id: TenantId(tenant),
        user_id: UserId(user),
        full_name: NAMES[n].to_owned(),
        avatar: Some(format!("https://avatars.example.com/{user}.png")),
        user_agent: Some(agent.to_owned()),
        device_id: Some(format!("{device}-{user}")),
        remote_address: Some(format!("203.0.113.{}", 1 + dice.roll(250))),
        connection_id,
        online_date: started,
        offline_date: None,
        last_seen_date: started,
        offline_reason: None,
    }
}

/// How often the demo's clients heartbeat: well inside the stale period (600 s by default).
pub const DEMO_HEARTBEAT: Duration = Duration::from_secs(60);

/// The demo's clients, live, for as long as the local API runs (after [`seed`]): the demo's
/// online sessions heartbeat as their apps would, so the cleanup does not end them as stale, and
/// every `every` a demo user comes online on another device or one of the demo's sessions goes
/// offline, through the store as a connect or a disconnect writes it, so an open admin console
/// (or any subscriber) sees rows appear and turn offline live. The number online stays near the
/// seeded one. A session ended by someone else (a forced offline) is simply let go. The clients
/// heartbeat every `heartbeat_every` ([`DEMO_HEARTBEAT`] from the binary).
pub async fn run_clients(store: Arc<dyn Store>, every: Duration, heartbeat_every: Duration) {
    let mut online: Vec<String> = sessions(Timestamp::now())
        .into_iter()
        .filter(|session| session.online())
        .map(|session| session.connection_id)
        .collect();
    let target = online.len();
    let mut dice = Dice(0x0dd_ba11 ^ Timestamp::now().millis() as u64);
    let mut opened = 0u64;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut last_heartbeat = tokio::time::Instant::now();
    loop {
        ticks.tick().await;
        let now = Timestamp::now();
        if last_heartbeat.elapsed() >= heartbeat_every {
            last_heartbeat = tokio::time::Instant::now();
            let mut alive = Vec::with_capacity(online.len());
            for connection_id in online {
                if let Ok(Some(_)) = store.touch_connection(&connection_id, now).await {
                    alive.push(connection_id);
                }
            }
            online = alive;
        }
        let come_online = online.len() < target || (online.len() == target && dice.roll(2) == 0);
        if come_online {
            opened += 1;
            let tenant = 1 + dice.roll(2) as i64;
            let n = dice.roll(NAMES.len() as u64) as usize;
            let session = demo_session(&mut dice, tenant, n, format!("demo-live-{opened}"), now);
            if let Err(error) = store.open_session(&session, None).await {
                tracing::warn!(%error, "a demo client could not connect");
                continue;
            }
            online.push(session.connection_id);
        } else if !online.is_empty() {
            let connection_id = online.swap_remove(dice.roll(online.len() as u64) as usize);
            if let Err(error) = store
                .close_connection(&connection_id, now, OfflineReason::Disconnected)
                .await
            {
                tracing::warn!(%error, "a demo client could not disconnect");
            }
        }
    }
}

/// Writes the demo tokens and sessions into `store`.
pub async fn seed(store: &dyn Store, now: Timestamp) -> Result<(), StoreError> {
    for token in tokens() {
        store.put_token(&token.record).await?;
    }
    for session in sessions(now) {
        store.open_session(&session, None).await?;
    }
    Ok(())
}
