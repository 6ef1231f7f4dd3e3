//! The embedded store: all state in one process's memory, for the local API and tests.
//!
//! Listings follow the plan and the read budget of the DynamoDB store ([`crate::domain::plan`]):
//! the same reads, each session examined counted against the same [`ReadMeter`], so both stores
//! give the same pages and refuse the same listings. The state keeps the indexes those reads
//! need, changed with the sessions they index: every session and every online session per tenant
//! in id order (the table and `onlineByTenant`), the sessions of each user (`byUser`), the name
//! index (per tenant and gram of [`name_grams`], the users with a session of that name), and
//! each tenant's counts (the counter shards).
//!
//! # Concurrency
//!
//! The state sits behind one [`RwLock`]. A write (connect, heartbeat, end) holds it for its one
//! change. A listing holds the read lock for at most [`CHUNK`] sessions at a time, then releases
//! it and yields to the runtime before it reads on from where it stopped, so that connects and
//! heartbeats on the same runtime proceed during a listing of a large tenant; no guard is ever
//! held across an `.await`. As with DynamoDB's paged queries, a listing is therefore not a
//! snapshot: a session changed between two chunks may be seen in either state (an online session
//! that ends meanwhile, ahead of the walk on the online index, is not seen at all), and a session
//! opened behind the walk's position is not seen. Each session is read at most once per listing.
//!
//! At most one listing per core reads at a time; the others wait their turn, in arrival order.
//! The runtime has no priorities: with twenty listings reading at once, a heartbeat would wait
//! behind a chunk of each of them, and with one per core it waits behind one chunk at most, while
//! the listings, bound by the cores anyway, take no longer in total.

mod audit;
mod listing;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use super::{
    BoundSession, CleanupStore, ConnectCheck, OfflineStore, Opened, SessionCounts, SessionStore, Store,
    SubscriptionStore, SweepPage, TenantRevocation, TokenStore, UserRef,
};
use crate::domain::access::{TenantScope, TokenHash, TokenRecord};
use crate::domain::error::StoreError;
use crate::domain::events::SessionChange;
use crate::domain::{OfflineReason, Session, SessionId, SessionPage, SessionQuery, TenantId, Timestamp, UserId};
use state::State;

pub use listing::CHUNK;

/// State in memory, behind one lock.
pub struct MemoryStore {
    state: RwLock<State>,
    /// Listings reading at once: one per core; the others wait their turn (in arrival order).
    listings: tokio::sync::Semaphore,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            state: RwLock::default(),
            listings: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get())),
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while holding the lock cannot leave State half-written in a way that matters (each
    // change is a few inserts, and a listing only reads), so a poisoned lock is still safe to use.

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every session start and end from now on, in the order written: the local API turns them
    /// into presence events. A listener that falls more than 65,536 changes behind is told how
    /// many it missed (`RecvError::Lagged`).
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<SessionChange> {
        self.read().feed.subscribe()
    }
}

impl Store for MemoryStore {}

#[async_trait]
impl SubscriptionStore for MemoryStore {
    /// As on DynamoDB, only a connection that carries a session subscribes.
    async fn subscribe(&self, connection_id: &str, scope: TenantScope, _at: Timestamp) -> Result<(), StoreError> {
        let mut state = self.write();
        if matches!(state.connections.get(connection_id), Some(Some(_))) {
            state.subscriptions.insert(connection_id.to_owned(), scope);
        }
        Ok(())
    }

    async fn unsubscribe(&self, connection_id: &str) -> Result<bool, StoreError> {
        Ok(self.write().subscriptions.remove(connection_id).is_some())
    }

    async fn subscribers_of(
        &self,
        tenants: &BTreeSet<TenantId>,
    ) -> Result<BTreeMap<TenantId, Vec<String>>, StoreError> {
        let state = self.read();
        Ok(tenants
            .iter()
            .map(|&tenant| {
                let watching = state
                    .subscriptions
                    .iter()
                    .filter(|(_, scope)| scope.contains(tenant))
                    .map(|(connection, _)| connection.clone())
                    .collect();
                (tenant, watching)
            })
            .collect())
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.write().tokens.insert(token.hash.clone(), token.clone());
        Ok(())
    }

    async fn token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.read().tokens.get(hash).cloned())
    }

    async fn tokens(&self, hashes: &[TokenHash]) -> Result<Vec<TokenRecord>, StoreError> {
        let distinct: BTreeSet<&TokenHash> = hashes.iter().collect();
        let state = self.read();
        Ok(distinct
            .into_iter()
            .filter_map(|hash| state.tokens.get(hash).cloned())
            .collect())
    }

    async fn user_tokens(&self, user: UserRef) -> Result<Vec<TokenRecord>, StoreError> {
        let mut found: Vec<TokenRecord> = self
            .read()
            .tokens
            .values()
            .filter(|t| t.user_id == user.user_id && t.tenant_id == user.tenant_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.hash.cmp(&b.hash));
        Ok(found)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn open_session(&self, session: &Session, check: Option<&ConnectCheck>) -> Result<Opened, StoreError> {
        let mut state = self.write();
        let minute = session.online_date.epoch_minute();
        let rate_key = (session.tenant_id, session.user_id, minute);
        if let Some(check) = check {
            if state.tokens.get(&check.token).is_none_or(|t| t.revoked_at.is_some()) {
                return Ok(Opened::TokenRevoked);
            }
            let opened = state.connects.get(&rate_key).copied().unwrap_or(0);
            if check.per_minute.is_some_and(|limit| opened >= limit) {
                return Ok(Opened::RateLimited);
            }
        }
        if state.connections.contains_key(&session.connection_id) || state.sessions.contains_key(&session.id) {
            return Ok(Opened::ConnectionKnown);
        }
        if let Some(check) = check {
            state.connects.retain(|(_, _, at), _| *at >= minute - 1);
            *state.connects.entry(rate_key).or_default() += 1;
            state.session_tokens.insert(session.id, check.token.clone());
        }
        state
            .connections
            .insert(session.connection_id.clone(), Some(session.id));
        state.insert(session.clone());
        Ok(Opened::Recorded)
    }

    async fn close_connection(
        &self,
        connection_id: &str,
        at: Timestamp,
        reason: OfflineReason,
    ) -> Result<Option<Session>, StoreError> {
        let mut state = self.write();
        match state.connections.get(connection_id) {
            Some(&Some(id)) => Ok(state.end(id, at, reason)),
            Some(None) => Ok(None),
            None => {
                state.connections.insert(connection_id.to_owned(), None);
                Ok(None)
            }
        }
    }

    async fn touch_connection(&self, connection_id: &str, at: Timestamp) -> Result<Option<BoundSession>, StoreError> {
        let mut state = self.write();
        let Some(&Some(id)) = state.connections.get(connection_id) else {
            return Ok(None);
        };
        let token = state.session_tokens.get(&id).cloned();
        Ok(state.sessions.get_mut(&id).filter(|s| s.online()).map(|session| {
            session.last_seen_date = session.last_seen_date.max(at);
            BoundSession {
                session: session.clone(),
                token,
            }
        }))
    }

    async fn end_sessions(
        &self,
        sessions: &[Session],
        at: Timestamp,
        reason: OfflineReason,
    ) -> Result<Vec<Session>, StoreError> {
        let mut state = self.write();
        Ok(sessions
            .iter()
            .filter_map(|session| state.end(session.id, at, reason))
            .collect())
    }

    async fn list_sessions(&self, scope: TenantScope, query: &SessionQuery) -> Result<SessionPage, StoreError> {
        self.list(scope, query).await
    }

    async fn user_sessions(
        &self,
        scope: TenantScope,
        user_id: UserId,
        ended_limit: usize,
    ) -> Result<Vec<Session>, StoreError> {
        let state = self.read();
        let Some(ids) = state.by_user.get(&user_id) else {
            return Ok(Vec::new());
        };
        let mut ended = 0;
        Ok(ids
            .iter()
            .rev()
            .filter_map(|id| state.sessions.get(id))
            .filter(|s| scope.contains(s.tenant_id))
            .filter(|s| {
                s.online() || {
                    ended += 1;
                    ended <= ended_limit
                }
            })
            .cloned()
            .collect())
    }

    async fn session_counts(&self, scope: TenantScope) -> Result<SessionCounts, StoreError> {
        Ok(self.read().counts(scope))
    }
}

#[async_trait]
impl OfflineStore for MemoryStore {
    async fn find_users(&self, scope: TenantScope, user_ids: &[UserId]) -> Result<Vec<UserRef>, StoreError> {
        let wanted: BTreeSet<UserId> = user_ids.iter().copied().collect();
        let state = self.read();
        let from_sessions = wanted
            .iter()
            .filter_map(|user| state.by_user.get(user))
            .flatten()
            .filter_map(|id| state.sessions.get(id))
            .map(|s| UserRef {
                user_id: s.user_id,
                tenant_id: s.tenant_id,
            });
        let from_tokens = state
            .tokens
            .values()
            .filter(|t| wanted.contains(&t.user_id))
            .map(|t| UserRef {
                user_id: t.user_id,
                tenant_id: t.tenant_id,
            });
        let found: BTreeSet<UserRef> = from_sessions
            .chain(from_tokens)
            .filter(|u| scope.contains(u.tenant_id))
            .collect();
        Ok(found.into_iter().collect())
    }

    async fn revoke_user_tokens(&self, users: &[UserRef], at: Timestamp) -> Result<u64, StoreError> {
        let users: BTreeSet<&UserRef> = users.iter().collect();
        let mut revoked = 0;
        for token in self.write().tokens.values_mut() {
            let owner = UserRef {
                user_id: token.user_id,
                tenant_id: token.tenant_id,
            };
            if token.revoked_at.is_none() && users.contains(&owner) {
                token.revoked_at = Some(at);
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    async fn online_sessions_of_users(&self, users: &[UserRef]) -> Result<Vec<Session>, StoreError> {
        let users: BTreeSet<&UserRef> = users.iter().collect();
        let user_ids: BTreeSet<UserId> = users.iter().map(|u| u.user_id).collect();
        let state = self.read();
        let mut found: Vec<Session> = user_ids
            .iter()
            .filter_map(|user| state.by_user.get(user))
            .flatten()
            .filter_map(|id| state.sessions.get(id))
            .filter(|s| {
                s.online()
                    && users.contains(&UserRef {
                        user_id: s.user_id,
                        tenant_id: s.tenant_id,
                    })
            })
            .cloned()
            .collect();
        found.sort_by_key(|s| s.id);
        Ok(found)
    }

    async fn revoke_tenant_tokens(
        &self,
        tenant: TenantId,
        only_users: Option<&BTreeSet<UserId>>,
        at: Timestamp,
    ) -> Result<TenantRevocation, StoreError> {
        let mut state = self.write();
        let mut done = TenantRevocation::default();
        let mut users = BTreeSet::new();
        for token in state.tokens.values_mut() {
            if token.tenant_id != tenant || only_users.is_some_and(|only| !only.contains(&token.user_id)) {
                continue;
            }
            users.insert(token.user_id);
            if token.revoked_at.is_none() {
                token.revoked_at = Some(at);
                done.revoked += 1;
            }
        }
        done.users = users.into_iter().collect();
        Ok(done)
    }

    async fn online_sessions_of_tenant(
        &self,
        tenant: TenantId,
        only_users: Option<&BTreeSet<UserId>>,
    ) -> Result<Vec<Session>, StoreError> {
        let state = self.read();
        Ok(state
            .online_by_tenant
            .range((tenant, SessionId::MIN)..=(tenant, SessionId::MAX))
            .filter_map(|(_, id)| state.sessions.get(id))
            .filter(|s| only_users.is_none_or(|only| only.contains(&s.user_id)))
            .cloned()
            .collect())
    }
}

#[async_trait]
impl CleanupStore for MemoryStore {
    async fn stale_sessions(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Session>, StoreError> {
        let state = self.read();
        let mut stale: Vec<Session> = state
            .sessions
            .values()
            .filter(|s| s.online() && s.last_seen_date < cutoff)
            .cloned()
            .collect();
        stale.sort_by_key(|s| (s.last_seen_date, s.id));
        stale.truncate(limit);
        Ok(stale)
    }

    async fn end_stale_sessions(
        &self,
        sessions: &[Session],
        cutoff: Timestamp,
        at: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        let mut state = self.write();
        let mut ended = Vec::new();
        for session in sessions {
            let still_stale = state
                .sessions
                .get(&session.id)
                .is_some_and(|s| s.last_seen_date < cutoff);
            if still_stale {
                ended.extend(state.end(session.id, at, OfflineReason::Stale));
            }
        }
        Ok(ended)
    }

    async fn ended_sessions_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Session>, StoreError> {
        let state = self.read();
        let mut old: Vec<Session> = state
            .sessions
            .values()
            .filter(|s| s.offline_date.is_some_and(|at| at < cutoff))
            .cloned()
            .collect();
        old.sort_by_key(|s| (s.offline_date, s.id));
        old.truncate(limit);
        Ok(old)
    }

    async fn delete_ended_sessions(&self, sessions: &[Session]) -> Result<u64, StoreError> {
        let mut state = self.write();
        let mut deleted = 0;
        for session in sessions {
            if state.sessions.get(&session.id).is_some_and(|s| !s.online()) {
                state.remove(session.id);
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    async fn online_sessions_page(&self, after: Option<&str>, limit: usize) -> Result<SweepPage, StoreError> {
        let after = match after {
            None => SessionId::MIN,
            Some(cursor) => cursor
                .parse()
                .map_err(|_| StoreError::Failure(format!("not a sweep cursor: {cursor}")))?,
        };
        let state = self.read();
        let sessions: Vec<BoundSession> = state
            .sessions
            .range((Bound::Excluded(after), Bound::Unbounded))
            .map(|(_, session)| session)
            .filter(|session| session.online())
            .take(limit.max(1))
            .map(|session| BoundSession {
                session: session.clone(),
                token: state.session_tokens.get(&session.id).cloned(),
            })
            .collect();
        let next = (sessions.len() == limit.max(1))
            .then(|| sessions.last().map(|last| last.session.id.to_string()))
            .flatten();
        Ok(SweepPage { sessions, next })
    }

    async fn expired_tokens(&self, now: Timestamp, limit: usize) -> Result<Vec<TokenHash>, StoreError> {
        let state = self.read();
        let mut expired: Vec<(Timestamp, TokenHash)> = state
            .tokens
            .values()
            .filter_map(|t| t.expires_at.filter(|at| *at < now).map(|at| (at, t.hash.clone())))
            .collect();
        expired.sort();
        Ok(expired.into_iter().take(limit).map(|(_, hash)| hash).collect())
    }

    async fn delete_expired_tokens(&self, hashes: &[TokenHash], now: Timestamp) -> Result<u64, StoreError> {
        let mut state = self.write();
        let mut deleted = 0;
        for hash in hashes {
            if state
                .tokens
                .get(hash)
                .is_some_and(|t| t.expires_at.is_some_and(|at| at < now))
            {
                state.tokens.remove(hash);
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{select_page, Paging, Position, ReadBudget};
    use crate::http::query::{parse_session_query, ListMode};

    const NAMES: [&str; 5] = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Édith Piaf", "ada byron"];

    /// Session `n`: tenant 1 or 2, one of 40 users, a third ended; ids one millisecond apart.
    fn session(n: i64) -> Session {
        let started = Timestamp::from_millis(1_795_860_000_000 + n);
        let session = Session {
            id: SessionId::new_at(started),
            tenant_id: TenantId(1 + n % 2),
            user_id: UserId(1000 + n % 40),
            full_name: NAMES[(n % 5) as usize].into(),
            avatar: None,
            user_agent: None,
            device_id: (n % 7 != 0).then(|| format!("device-{}", n % 11)),
            remote_address: None,
            connection_id: format!("conn-{n}"),
            online_date: started,
            offline_date: None,
            last_seen_date: started,
            offline_reason: None,
        };
        if n % 3 == 0 {
            session.ended(started.plus_secs(30), OfflineReason::Disconnected)
        } else {
            session
        }
    }

    async fn store_of(sessions: &[Session]) -> MemoryStore {
        let store = MemoryStore::new();
        for session in sessions {
            assert_eq!(store.open_session(session, None).await.unwrap(), Opened::Recorded);
        }
        store
    }

    fn query(raw: &str, mode: ListMode) -> SessionQuery {
        parse_session_query(raw, mode).expect("a valid query")
    }

    fn ids(sessions: &[Session]) -> Vec<SessionId> {
        sessions.iter().map(|s| s.id).collect()
    }

    const QUERIES: [(ListMode, &str); 14] = [
        (ListMode::List, ""),
        (ListMode::List, "pageSize=700&pageNo=3"),
        (ListMode::List, "online=true&orderSort=ASC&pageSize=50&pageNo=30"),
        (ListMode::List, "online=false&pageSize=20&pageNo=40"),
        (ListMode::List, "orderBy=fullName&pageSize=100&pageNo=7"),
        (ListMode::List, "userId=1003&pageSize=5&pageNo=2"),
        (ListMode::List, "filters[0].key=userId&filters[0].op=IN&filters[0].value=1001,1002,1039&orderBy=onlineDate"),
        (ListMode::Search, "fullName=ADA&pageSize=30&pageNo=4"),
        (ListMode::Search, "fullName=piaf&online=true"),
        (ListMode::Search, "fullName=a&orderBy=userId&orderSort=ASC&pageSize=9&pageNo=11"),
        (ListMode::List, "deviceId=device-3&pageSize=15&pageNo=2"),
        (ListMode::List, "filters[0].key=onlineDate&filters[0].op=LESS_THAN&filters[0].value=2026-11-28 10:00:02&orderBy=onlineDate&orderSort=ASC&pageSize=100&pageNo=5"),
        (ListMode::List, "filters[0].key=onlineDate&filters[0].op=GREATER_THAN_EQUAL&filters[0].value=2026-11-28 10:00:03&online=true&pageSize=17&pageNo=6"),
        (ListMode::List, "filters[0].key=deviceId&filters[0].op=IS_NULL&online=true&pageSize=3"),
    ];

    /// Several chunks of sessions, so that every plan resumes walks mid-tenant and mid-user.
    #[tokio::test]
    async fn every_plan_answers_as_the_model_across_chunks() {
        let data: Vec<Session> = (0..5_000).map(session).collect();
        let store = store_of(&data).await;
        for scope in [
            TenantScope::Tenant(TenantId(1)),
            TenantScope::All,
            TenantScope::Tenant(TenantId(9)),
        ] {
            let in_scope = || data.iter().filter(|s| scope.contains(s.tenant_id)).cloned();
            for (mode, raw) in QUERIES {
                let query = query(raw, mode);
                let expected = select_page(in_scope(), &query);
                let got = store.list_sessions(scope, &query).await.unwrap();
                assert_eq!(got.total, expected.total, "total of {raw:?} in {scope:?}");
                assert_eq!(
                    ids(&got.sessions),
                    ids(&expected.sessions),
                    "page of {raw:?} in {scope:?}"
                );
                assert_eq!(got.more, expected.more, "more of {raw:?} in {scope:?}");
                // The next page by cursor is the next page by number.
                if let Some(last) = got.sessions.last().filter(|_| got.more) {
                    let mut after = query.clone();
                    after.after = Some(Position::of(last, query.order_by));
                    let mut next = query.clone();
                    next.paging.page_no += 1;
                    let expected = select_page(in_scope(), &next);
                    let got = store.list_sessions(scope, &after).await.unwrap();
                    assert_eq!(
                        ids(&got.sessions),
                        ids(&expected.sessions),
                        "cursor after {raw:?} in {scope:?}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn listings_past_their_budget_are_refused() {
        let data: Vec<Session> = (0..3_000).map(session).collect();
        let store = store_of(&data).await;
        let tenant = TenantScope::Tenant(TenantId(1));
        let budgeted = |raw: &str, mode, budget| SessionQuery {
            read_budget: ReadBudget(budget),
            ..query(raw, mode)
        };
        let refused = |result: Result<SessionPage, StoreError>| matches!(result, Err(StoreError::ReadBudget(_)));
        // A scan reads the tenant (1,500 sessions).
        assert!(refused(
            store
                .list_sessions(tenant, &budgeted("orderBy=fullName", ListMode::List, 1_499))
                .await
        ));
        assert!(store
            .list_sessions(tenant, &budgeted("orderBy=fullName", ListMode::List, 1_500))
            .await
            .is_ok());
        // A user's sessions count in every tenant: user 1001 has 75, all in tenant 2.
        assert!(refused(
            store
                .list_sessions(tenant, &budgeted("userId=1001", ListMode::List, 74))
                .await
        ));
        let none_here = store
            .list_sessions(tenant, &budgeted("userId=1001", ListMode::List, 75))
            .await;
        assert_eq!(none_here.unwrap().total, 0);
        // A name search reads the sessions of the users whose names may match.
        assert!(refused(
            store
                .list_sessions(tenant, &budgeted("fullName=lovelace", ListMode::Search, 299))
                .await
        ));
        assert!(store
            .list_sessions(tenant, &budgeted("fullName=lovelace", ListMode::Search, 300))
            .await
            .is_ok());
        // Key order reads the page end and one more; a deeper page is refused unless past the end.
        let page = |no: u32| format!("pageSize=100&pageNo={no}");
        assert!(store
            .list_sessions(tenant, &budgeted(&page(2), ListMode::List, 201))
            .await
            .is_ok());
        assert!(refused(
            store
                .list_sessions(tenant, &budgeted(&page(2), ListMode::List, 200))
                .await
        ));
        let past_the_end = store
            .list_sessions(tenant, &budgeted(&page(16), ListMode::List, 200))
            .await
            .unwrap();
        assert_eq!(
            (past_the_end.total, past_the_end.sessions.len(), past_the_end.more),
            (1_500, 0, false)
        );
        // Ended sessions are found among all of them: 500 of 1,500, the page's 300 within ~900.
        let ended = budgeted("online=false&pageSize=100&pageNo=3", ListMode::List, 880);
        assert!(refused(store.list_sessions(tenant, &ended).await));
    }

    #[tokio::test]
    async fn indexes_and_counts_follow_ends_and_deletes() {
        let data: Vec<Session> = (0..300).map(session).collect();
        let store = store_of(&data).await;
        let tenant = TenantScope::Tenant(TenantId(1));
        assert_eq!(
            store.session_counts(tenant).await.unwrap(),
            SessionCounts {
                sessions: 150,
                online: 100
            }
        );
        let lovelace = query("fullName=lovelace&pageSize=2000", ListMode::Search);
        let before = store.list_sessions(tenant, &lovelace).await.unwrap();
        assert_eq!(before.total, 30);
        // End every online Ada Lovelace session, then delete them all.
        let ended = store
            .end_sessions(
                &before.sessions,
                Timestamp::from_secs(1_795_870_000),
                OfflineReason::Forced,
            )
            .await
            .unwrap();
        assert_eq!(ended.len(), 20);
        assert_eq!(
            store.session_counts(tenant).await.unwrap(),
            SessionCounts {
                sessions: 150,
                online: 80
            }
        );
        let online = store
            .list_sessions(tenant, &query("online=true&pageSize=2000", ListMode::List))
            .await
            .unwrap();
        assert_eq!((online.total, online.sessions.len()), (80, 80));
        assert_eq!(store.delete_ended_sessions(&before.sessions).await.unwrap(), 30);
        assert_eq!(store.list_sessions(tenant, &lovelace).await.unwrap().total, 0);
        assert_eq!(
            store.session_counts(TenantScope::All).await.unwrap(),
            SessionCounts {
                sessions: 270,
                online: 180
            }
        );
        let remaining: Vec<Session> = data.iter().filter(|s| s.full_name != "Ada Lovelace").cloned().collect();
        for (mode, raw) in QUERIES {
            let query = query(raw, mode);
            let expected = select_page(remaining.iter().filter(|s| s.tenant_id == TenantId(1)).cloned(), &query);
            let got = store.list_sessions(tenant, &query).await.unwrap();
            assert_eq!(
                (got.total, ids(&got.sessions)),
                (expected.total, ids(&expected.sessions)),
                "{raw:?}"
            );
        }
    }

    /// On one thread, a heartbeat gets in between the chunks of a listing of the whole tenant.
    #[tokio::test(flavor = "current_thread")]
    async fn heartbeats_proceed_during_a_long_listing() {
        let data: Vec<Session> = (0..20_000).map(session).collect();
        let store = std::sync::Arc::new(store_of(&data).await);
        let listing = tokio::spawn({
            let store = store.clone();
            async move {
                let query = SessionQuery {
                    paging: Paging {
                        page_no: 1,
                        page_size: 10,
                    },
                    ..query("orderBy=fullName", ListMode::List)
                };
                store.list_sessions(TenantScope::All, &query).await.unwrap()
            }
        });
        let mut beats_during = 0;
        while !listing.is_finished() {
            let touched = store
                .touch_connection("conn-1", Timestamp::from_secs(1_795_870_000))
                .await
                .unwrap();
            assert!(touched.is_some());
            beats_during += 1;
            tokio::task::yield_now().await;
        }
        assert_eq!(listing.await.unwrap().total, 20_000);
        assert!(beats_during >= 10, "{beats_during} heartbeats during the listing");
    }
}
