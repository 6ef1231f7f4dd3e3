//! Test data: sessions and tokens built in one line each, with the invariants the service keeps
//! (a session's id is time-ordered by its start; tokens are stored by hash).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use message_center::domain::access::{Permission, TokenHash, TokenRecord};
use message_center::domain::{OfflineReason, Session, SessionId, TenantId, Timestamp, UserId};
use message_center::store::{MemoryStore, Opened, SessionStore, Store};

use crate::StoreKind;

/// 2026-11-28 10:00:00 UTC: the tests' "now".
pub const NOW_SECS: i64 = 1_795_860_000;

pub fn at(seconds_from_now: i64) -> Timestamp {
    Timestamp::from_secs(NOW_SECS + seconds_from_now)
}

static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

/// An online session of `user` in `tenant`, started at `started`, with a unique connection id.
pub fn online(tenant: i64, user: i64, name: &str, started: Timestamp) -> Session {
    Session {
        id: SessionId::new_at(started),
        tenant_id: TenantId(tenant),
        user_id: UserId(user),
        full_name: name.to_owned(),
        avatar: None,
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into()),
        device_id: Some(format!("device-{user}")),
        remote_address: Some("203.0.113.7".into()),
        connection_id: format!(
            "conn-{}-{}",
            CONNECTIONS.fetch_add(1, Ordering::Relaxed),
            ulid::Ulid::new()
        ),
        online_date: started,
        offline_date: None,
        last_seen_date: started,
        offline_reason: None,
    }
}

/// A session that started at `started` and ended `lasted` seconds later for `reason`.
pub fn ended(tenant: i64, user: i64, name: &str, started: Timestamp, lasted: i64, reason: OfflineReason) -> Session {
    online(tenant, user, name, started).ended(started.plus_secs(lasted), reason)
}

/// A token record for `token` (stored by hash), with the given permissions; `token` is listed for
/// the scan of the logs ([`crate::logs`]).
pub fn token(token: &str, tenant: i64, user: i64, permissions: &[Permission], platform: bool) -> TokenRecord {
    crate::logs::capture();
    crate::logs::remember_token(token);
    TokenRecord {
        hash: TokenHash::of(token),
        user_id: UserId(user),
        tenant_id: TenantId(tenant),
        full_name: format!("User {user}"),
        avatar: None,
        permissions: permissions.iter().map(|p| p.name().to_owned()).collect::<BTreeSet<_>>(),
        platform,
        expires_at: None,
        revoked_at: None,
    }
}

/// How a batch of sessions reaches a store in [`store_holding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeding {
    /// One by one through [`SessionStore::open_session`], as a `$connect` records them.
    Opened,
    /// In bulk through the DynamoDB store's `import_sessions` (the demo data's and the
    /// benchmarks' path); the memory store, which has no bulk path, opens them one by one.
    Imported,
}

/// A fresh store of `kind` holding `batches`, written in order, each the way it names.
pub async fn store_holding(kind: StoreKind, batches: &[(Seeding, &[Session])]) -> Arc<dyn Store> {
    async fn open_each(store: &dyn SessionStore, sessions: &[Session]) {
        for session in sessions {
            let opened = store.open_session(session, None).await.unwrap();
            assert_eq!(opened, Opened::Recorded, "session {} opened", session.id);
        }
    }
    match kind {
        StoreKind::Memory => {
            let store = MemoryStore::new();
            for (_, sessions) in batches {
                open_each(&store, sessions).await;
            }
            Arc::new(store)
        }
        StoreKind::DynamoDb => {
            let store = crate::dynamodb::fresh_store().await;
            for (seeding, sessions) in batches {
                match seeding {
                    Seeding::Opened => open_each(&store, sessions).await,
                    Seeding::Imported if sessions.is_empty() => {}
                    Seeding::Imported => store
                        .import_sessions(sessions)
                        .await
                        .expect("the sessions are imported"),
                }
            }
            Arc::new(store)
        }
    }
}

/// `text` as a query string value: every byte but the unreserved characters percent-encoded.
pub fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
