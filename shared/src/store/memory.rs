//! The embedded store: all state in one process's memory, for the local API and tests. It keeps no
//! counters or indexes of its own: it derives them from the sessions under one lock, which is
//! exactly right and fast enough for a local run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    BoundSession, CleanupStore, ConnectCheck, OfflineStore, Opened, SessionCounts, SessionStore, Store, SweepPage,
    TenantRevocation, TokenStore, UserRef,
};
use crate::domain::access::{TenantScope, TokenHash, TokenRecord};
use crate::domain::error::StoreError;
use crate::domain::{
    select_page, OfflineReason, Session, SessionId, SessionPage, SessionQuery, TenantId, Timestamp, UserId,
};

#[derive(Default)]
struct State {
    /// Ordered by id, so "newest first" is a reverse walk.
    sessions: BTreeMap<SessionId, Session>,
    /// Connection id → session id, kept after the session ends; `None` for a connection that was
    /// closed before it was ever opened (a tombstone, so a late connect is refused).
    connections: HashMap<String, Option<SessionId>>,
    tokens: HashMap<TokenHash, TokenRecord>,
    /// The token each session was opened with, when it was opened with one.
    session_tokens: HashMap<SessionId, TokenHash>,
    /// Sessions each user opened, by `(tenant, user, epoch minute)`; only the current minute is
    /// ever read, older entries are dropped as new ones come.
    connects: HashMap<(TenantId, UserId, i64), u32>,
}

/// State in memory, behind one mutex.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-written (every change is one
        // insert), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn ended_here(state: &mut State, id: SessionId, at: Timestamp, reason: OfflineReason) -> Option<Session> {
    let session = state.sessions.get_mut(&id)?;
    if !session.online() {
        return None;
    }
    *session = session.clone().ended(at, reason);
    Some(session.clone())
}

impl Store for MemoryStore {}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.state().tokens.insert(token.hash.clone(), token.clone());
        Ok(())
    }

    async fn token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.state().tokens.get(hash).cloned())
    }

    async fn tokens(&self, hashes: &[TokenHash]) -> Result<Vec<TokenRecord>, StoreError> {
        let distinct: BTreeSet<&TokenHash> = hashes.iter().collect();
        let state = self.state();
        Ok(distinct
            .into_iter()
            .filter_map(|hash| state.tokens.get(hash).cloned())
            .collect())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn open_session(&self, session: &Session, check: Option<&ConnectCheck>) -> Result<Opened, StoreError> {
        let mut state = self.state();
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
        state.sessions.insert(session.id, session.clone());
        Ok(Opened::Recorded)
    }

    async fn close_connection(
        &self,
        connection_id: &str,
        at: Timestamp,
        reason: OfflineReason,
    ) -> Result<Option<Session>, StoreError> {
        let mut state = self.state();
        match state.connections.get(connection_id) {
            Some(&Some(id)) => Ok(ended_here(&mut state, id, at, reason)),
            Some(None) => Ok(None),
            None => {
                state.connections.insert(connection_id.to_owned(), None);
                Ok(None)
            }
        }
    }

    async fn touch_connection(&self, connection_id: &str, at: Timestamp) -> Result<Option<BoundSession>, StoreError> {
        let mut state = self.state();
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
        let mut state = self.state();
        Ok(sessions
            .iter()
            .filter_map(|session| ended_here(&mut state, session.id, at, reason))
            .collect())
    }

    async fn list_sessions(&self, scope: TenantScope, query: &SessionQuery) -> Result<SessionPage, StoreError> {
        let state = self.state();
        let in_scope = state.sessions.values().filter(|s| scope.contains(s.tenant_id)).cloned();
        Ok(select_page(in_scope, query))
    }

    async fn user_sessions(
        &self,
        scope: TenantScope,
        user_id: UserId,
        ended_limit: usize,
    ) -> Result<Vec<Session>, StoreError> {
        let state = self.state();
        let mut ended = 0;
        Ok(state
            .sessions
            .values()
            .rev()
            .filter(|s| s.user_id == user_id && scope.contains(s.tenant_id))
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
        let state = self.state();
        let mut counts = SessionCounts::default();
        for session in state.sessions.values().filter(|s| scope.contains(s.tenant_id)) {
            counts.sessions += 1;
            counts.online += u64::from(session.online());
        }
        Ok(counts)
    }
}

#[async_trait]
impl OfflineStore for MemoryStore {
    async fn find_users(&self, scope: TenantScope, user_ids: &[UserId]) -> Result<Vec<UserRef>, StoreError> {
        let wanted: BTreeSet<UserId> = user_ids.iter().copied().collect();
        let state = self.state();
        let from_sessions = state.sessions.values().map(|s| UserRef {
            user_id: s.user_id,
            tenant_id: s.tenant_id,
        });
        let from_tokens = state.tokens.values().map(|t| UserRef {
            user_id: t.user_id,
            tenant_id: t.tenant_id,
        });
        let found: BTreeSet<UserRef> = from_sessions
            .chain(from_tokens)
            .filter(|u| wanted.contains(&u.user_id) && scope.contains(u.tenant_id))
            .collect();
        Ok(found.into_iter().collect())
    }

    async fn revoke_user_tokens(&self, users: &[UserRef], at: Timestamp) -> Result<u64, StoreError> {
        let users: BTreeSet<&UserRef> = users.iter().collect();
        let mut revoked = 0;
        for token in self.state().tokens.values_mut() {
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
        let state = self.state();
        Ok(state
            .sessions
            .values()
            .filter(|s| {
                s.online()
                    && users.contains(&UserRef {
                        user_id: s.user_id,
                        tenant_id: s.tenant_id,
                    })
            })
            .cloned()
            .collect())
    }

    async fn revoke_tenant_tokens(
        &self,
        tenant: TenantId,
        only_users: Option<&BTreeSet<UserId>>,
        at: Timestamp,
    ) -> Result<TenantRevocation, StoreError> {
        let mut state = self.state();
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
        let state = self.state();
        Ok(state
            .sessions
            .values()
            .filter(|s| s.online() && s.tenant_id == tenant)
            .filter(|s| only_users.is_none_or(|only| only.contains(&s.user_id)))
            .cloned()
            .collect())
    }
}

#[async_trait]
impl CleanupStore for MemoryStore {
    async fn stale_sessions(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Session>, StoreError> {
        let state = self.state();
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
        let mut state = self.state();
        let mut ended = Vec::new();
        for session in sessions {
            let still_stale = state
                .sessions
                .get(&session.id)
                .is_some_and(|s| s.last_seen_date < cutoff);
            if still_stale {
                ended.extend(ended_here(&mut state, session.id, at, OfflineReason::Stale));
            }
        }
        Ok(ended)
    }

    async fn ended_sessions_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Session>, StoreError> {
        let state = self.state();
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
        let mut state = self.state();
        let mut deleted = 0;
        for session in sessions {
            if state.sessions.get(&session.id).is_some_and(|s| !s.online()) {
                state.sessions.remove(&session.id);
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
        let state = self.state();
        let sessions: Vec<BoundSession> = state
            .sessions
            .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
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
        let state = self.state();
        let mut expired: Vec<(Timestamp, TokenHash)> = state
            .tokens
            .values()
            .filter_map(|t| t.expires_at.filter(|at| *at < now).map(|at| (at, t.hash.clone())))
            .collect();
        expired.sort();
        Ok(expired.into_iter().take(limit).map(|(_, hash)| hash).collect())
    }

    async fn delete_expired_tokens(&self, hashes: &[TokenHash], now: Timestamp) -> Result<u64, StoreError> {
        let mut state = self.state();
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
