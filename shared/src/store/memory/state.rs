//! The embedded store's state: the sessions and the indexes its reads need (DynamoDB's tables and
//! indexes, in maps), each changed with the sessions it indexes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio::sync::broadcast;

use crate::domain::access::{TenantScope, TokenHash, TokenRecord};
use crate::domain::events::SessionChange;
use crate::domain::plan::name_grams;
use crate::domain::{OfflineReason, Session, SessionId, TenantId, Timestamp, UserId};
use crate::store::SessionCounts;

#[derive(Default)]
pub(super) struct State {
    /// Ordered by id, so "newest first" is a reverse walk.
    pub(super) sessions: BTreeMap<SessionId, Session>,
    /// Every session, by tenant, in id order.
    pub(super) by_tenant: BTreeSet<(TenantId, SessionId)>,
    /// Online sessions, by tenant, in id order.
    pub(super) online_by_tenant: BTreeSet<(TenantId, SessionId)>,
    /// Every session of each user id, in whichever tenant.
    pub(super) by_user: HashMap<UserId, BTreeSet<SessionId>>,
    /// The name index: per tenant and gram, the users with a session whose name has the gram, by
    /// that name, with how many such sessions they have.
    pub(super) names: HashMap<(TenantId, String), BTreeMap<(UserId, String), u32>>,
    /// Each tenant's counts, kept by the writes (no entry: no sessions).
    pub(super) counts: BTreeMap<TenantId, SessionCounts>,
    /// Connection id → session id, kept after the session ends; `None` for a connection that was
    /// closed before it was ever opened (a tombstone, so a late connect is refused).
    pub(super) connections: HashMap<String, Option<SessionId>>,
    pub(super) tokens: HashMap<TokenHash, TokenRecord>,
    /// The token each session was opened with, when it was opened with one.
    pub(super) session_tokens: HashMap<SessionId, TokenHash>,
    /// Sessions each user opened, by `(tenant, user, epoch minute)`; only the current minute is
    /// ever read, older entries are dropped as new ones come.
    pub(super) connects: HashMap<(TenantId, UserId, i64), u32>,
    /// The audit trail of forced offlines ([`super::audit`]).
    pub(super) audit: super::audit::AuditTrail,
    /// Presence subscriptions: connection id → the tenants it watches.
    pub(super) subscriptions: HashMap<String, TenantScope>,
    /// Every session start and end, as it is written (what DynamoDB's stream is to that store).
    pub(super) feed: ChangeFeed,
}

/// Session changes, broadcast to whoever listens ([`super::MemoryStore::changes`]); nothing is
/// kept or cloned while no one does.
pub(super) struct ChangeFeed(broadcast::Sender<SessionChange>);

/// Changes a listener may fall behind by before it misses some (it is told how many).
const FEED_CAPACITY: usize = 65_536;

impl Default for ChangeFeed {
    fn default() -> Self {
        ChangeFeed(broadcast::channel(FEED_CAPACITY).0)
    }
}

impl ChangeFeed {
    pub(super) fn subscribe(&self) -> broadcast::Receiver<SessionChange> {
        self.0.subscribe()
    }

    fn publish(&self, before: Option<&Session>, after: &Session) {
        if self.0.receiver_count() > 0 {
            let _ = self.0.send(SessionChange {
                before: before.cloned(),
                after: Some(after.clone()),
            });
        }
    }
}

impl State {
    /// Records a new session in the map and every index.
    pub(super) fn insert(&mut self, session: Session) {
        let (id, tenant, user) = (session.id, session.tenant_id, session.user_id);
        self.by_tenant.insert((tenant, id));
        if session.online() {
            self.online_by_tenant.insert((tenant, id));
        }
        self.by_user.entry(user).or_default().insert(id);
        for gram in name_grams(&session.full_name) {
            *self
                .names
                .entry((tenant, gram))
                .or_default()
                .entry((user, session.full_name.clone()))
                .or_default() += 1;
        }
        let counts = self.counts.entry(tenant).or_default();
        counts.sessions += 1;
        counts.online += u64::from(session.online());
        self.feed.publish(None, &session);
        self.sessions.insert(id, session);
    }

    /// Ends the session `id` if it is online; the session as ended.
    pub(super) fn end(&mut self, id: SessionId, at: Timestamp, reason: OfflineReason) -> Option<Session> {
        let session = self.sessions.get_mut(&id)?;
        if !session.online() {
            return None;
        }
        let before = session.clone();
        *session = session.clone().ended(at, reason);
        let ended = session.clone();
        self.feed.publish(Some(&before), &ended);
        self.online_by_tenant.remove(&(ended.tenant_id, id));
        if let Some(counts) = self.counts.get_mut(&ended.tenant_id) {
            counts.online = counts.online.saturating_sub(1);
        }
        Some(ended)
    }

    /// Deletes the session `id` from the map and every index.
    pub(super) fn remove(&mut self, id: SessionId) -> Option<Session> {
        let session = self.sessions.remove(&id)?;
        let (tenant, user) = (session.tenant_id, session.user_id);
        self.by_tenant.remove(&(tenant, id));
        self.online_by_tenant.remove(&(tenant, id));
        if let Some(ids) = self.by_user.get_mut(&user) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_user.remove(&user);
            }
        }
        let entry = (user, session.full_name.clone());
        for gram in name_grams(&session.full_name) {
            let key = (tenant, gram);
            let Some(users) = self.names.get_mut(&key) else {
                continue;
            };
            if let Some(sessions) = users.get_mut(&entry) {
                *sessions -= 1;
                if *sessions == 0 {
                    users.remove(&entry);
                }
            }
            if users.is_empty() {
                self.names.remove(&key);
            }
        }
        if let Some(counts) = self.counts.get_mut(&tenant) {
            counts.sessions = counts.sessions.saturating_sub(1);
            counts.online = counts.online.saturating_sub(u64::from(session.online()));
            if counts.sessions == 0 {
                self.counts.remove(&tenant);
            }
        }
        self.session_tokens.remove(&id);
        Some(session)
    }

    /// The tenants of `scope` that have sessions (a one-tenant scope: that tenant).
    pub(super) fn tenants(&self, scope: TenantScope) -> Vec<TenantId> {
        match scope {
            TenantScope::Tenant(tenant) => vec![tenant],
            TenantScope::All => self.counts.keys().copied().collect(),
        }
    }

    /// The counts of `scope`, from the kept counts.
    pub(super) fn counts(&self, scope: TenantScope) -> SessionCounts {
        self.counts.iter().filter(|(tenant, _)| scope.contains(**tenant)).fold(
            SessionCounts::default(),
            |sum, (_, counts)| SessionCounts {
                sessions: sum.sessions + counts.sessions,
                online: sum.online + counts.online,
            },
        )
    }
}
