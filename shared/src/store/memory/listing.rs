//! The embedded store's listings: the reads [`crate::domain::plan`] chooses, walked a chunk at a
//! time (see the [module docs](super) on concurrency), each session read counted against the
//! listing's [`ReadMeter`].

use std::collections::BTreeSet;
use std::ops::Bound;

use super::state::State;
use super::MemoryStore;
use crate::domain::access::TenantScope;
use crate::domain::error::StoreError;
use crate::domain::plan::{deep_page, deep_page_answer, name_may_match};
use crate::domain::{
    plan, select_page, KeyRange, ListingPlan, PageSelector, ReadMeter, Session, SessionId, SessionPage, SessionQuery,
    TenantId, UserId,
};

/// Sessions (or name index entries) a listing reads per hold of the lock.
pub const CHUNK: usize = 1_024;

impl MemoryStore {
    /// [`crate::store::SessionStore::list_sessions`]: waits its turn among the listings, then
    /// reads what the plan says.
    pub(super) async fn list(&self, scope: TenantScope, query: &SessionQuery) -> Result<SessionPage, StoreError> {
        let _turn = self
            .listings
            .acquire()
            .await
            .map_err(|_| StoreError::Failure("the listing semaphore is closed".into()))?;
        let meter = ReadMeter::new(query.read_budget);
        match plan(query) {
            ListingPlan::KeyOrder(range) => self.list_in_key_order(scope, range, query, &meter).await,
            ListingPlan::Users(users) => self.list_all_of(scope, &mut UserWalk::new(users), query, &meter).await,
            ListingPlan::Names { gram, needle } => {
                let users = self.users_named(scope, &gram, &needle).await;
                self.list_all_of(scope, &mut UserWalk::new(users), query, &meter).await
            }
            ListingPlan::Scan(range) => {
                let tenants = self.read().tenants(scope);
                self.list_all_of(scope, &mut TenantWalk::new(tenants, range), query, &meter)
                    .await
            }
        }
    }

    /// Runs `walk` a chunk at a time: each chunk under one hold of the read lock, `visit` deciding
    /// for each session read whether it is kept (cloned) and whether the walk leaves its current
    /// source (tenant or user); the chunk's kept sessions go to `sink` once the lock is released,
    /// and the task yields before the next chunk.
    async fn walk(
        &self,
        walk: &mut impl Walk,
        mut visit: impl FnMut(&Session) -> Result<Visit, StoreError>,
        mut sink: impl FnMut(Vec<Session>),
    ) -> Result<(), StoreError> {
        loop {
            let mut kept = Vec::new();
            let finished = {
                let state = self.read();
                walk.step(&state, &mut |session| {
                    let visit = visit(session)?;
                    if visit != Visit::Skip {
                        kept.push(session.clone());
                    }
                    Ok(visit != Visit::KeepAndMoveOn)
                })?
            };
            sink(kept);
            if finished {
                return Ok(());
            }
            tokio::task::yield_now().await;
        }
    }

    /// A listing served in key order: each tenant's first matches past the cursor, merged; `total`
    /// from the counts, or a count of the range. A page deeper than the budget is refused unless
    /// the counts say it is past the last match.
    async fn list_in_key_order(
        &self,
        scope: TenantScope,
        range: KeyRange,
        query: &SessionQuery,
        meter: &ReadMeter,
    ) -> Result<SessionPage, StoreError> {
        let (tenants, counts) = {
            let state = self.read();
            (state.tenants(scope), state.counts(scope))
        };
        if deep_page(query) {
            return deep_page_answer(query, range.counter.map(|counter| counts.counted(counter)));
        }
        // One more than the page needs says whether another page follows.
        let want = query.end() + 1;
        let matcher = query.matcher();
        let mut firsts = Vec::new();
        let (mut tenant, mut found) = (None, 0);
        let mut page_walk = TenantWalk::new(tenants.clone(), range.after(query.after.as_ref().map(|p| p.id)));
        self.walk(
            &mut page_walk,
            |session| {
                meter.take(1)?;
                if tenant != Some(session.tenant_id) {
                    (tenant, found) = (Some(session.tenant_id), 0);
                }
                if !(matcher.matches(session) && query.is_after_cursor(session)) {
                    return Ok(Visit::Skip);
                }
                found += 1;
                Ok(if found >= want {
                    Visit::KeepAndMoveOn
                } else {
                    Visit::Keep
                })
            },
            |kept| firsts.extend(kept),
        )
        .await?;
        let total = match range.counter {
            Some(counter) => counts.counted(counter),
            // The range is all the query asks (a key-order plan without a counter has no residual
            // filter): its size, as DynamoDB's `COUNT` query, not metered.
            None => {
                let mut count = 0u64;
                let mut count_walk = TenantWalk::new(tenants, range);
                self.walk(
                    &mut count_walk,
                    |_| {
                        count += 1;
                        Ok(Visit::Skip)
                    },
                    |_| {},
                )
                .await?;
                count
            }
        };
        let mut page = select_page(firsts, query);
        page.total = total;
        Ok(page)
    }

    /// Every session of `walk` (metered) that is in `scope`, offered to the page.
    async fn list_all_of(
        &self,
        scope: TenantScope,
        walk: &mut impl Walk,
        query: &SessionQuery,
        meter: &ReadMeter,
    ) -> Result<SessionPage, StoreError> {
        let matcher = query.matcher();
        let mut selector = PageSelector::new(query);
        self.walk(
            walk,
            |session| {
                meter.take(1)?;
                Ok(if scope.contains(session.tenant_id) && matcher.matches(session) {
                    Visit::Keep
                } else {
                    Visit::Skip
                })
            },
            |kept| kept.into_iter().for_each(|session| selector.offer(session)),
        )
        .await?;
        Ok(selector.finish())
    }

    /// The users with a session in `scope` whose name may hold `needle`, from the name index's
    /// entries for `gram` (not metered: the index is read, no session).
    async fn users_named(&self, scope: TenantScope, gram: &str, needle: &str) -> BTreeSet<UserId> {
        let tenants = self.read().tenants(scope);
        let mut users = BTreeSet::new();
        for tenant in tenants {
            let key = (tenant, gram.to_owned());
            let mut after: Option<(UserId, String)> = None;
            loop {
                let resume = {
                    let state = self.read();
                    let Some(entries) = state.names.get(&key) else {
                        break;
                    };
                    let lower = after.take().map_or(Bound::Unbounded, Bound::Excluded);
                    let (mut last_read, mut more) = (None, false);
                    for (read, (entry, _)) in entries.range((lower, Bound::Unbounded)).enumerate() {
                        if read == CHUNK {
                            more = true;
                            break;
                        }
                        last_read = Some(entry);
                        let (user, name) = entry;
                        if !users.contains(user) && name_may_match(name, needle) {
                            users.insert(*user);
                        }
                    }
                    last_read.filter(|_| more).cloned()
                };
                match resume {
                    Some(entry) => after = Some(entry),
                    None => break,
                }
                tokio::task::yield_now().await;
            }
        }
        users
    }
}
/// What a listing's walk does with a session it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    Skip,
    Keep,
    /// Keep it, and read no more of the current tenant (or user).
    KeepAndMoveOn,
}

/// A read of sessions in some order that can stop after any session and resume there.
trait Walk: Send {
    /// Reads on, at most [`CHUNK`] sessions, `visit` saying after each whether to go on in the
    /// current source; `true` when the walk is done.
    fn step(
        &mut self,
        state: &State,
        visit: &mut dyn FnMut(&Session) -> Result<bool, StoreError>,
    ) -> Result<bool, StoreError>;
}

/// Each tenant's sessions in a key range (the table, or the online index), in the range's order.
struct TenantWalk {
    tenants: Vec<TenantId>,
    range: KeyRange,
    at: usize,
    last: Option<SessionId>,
}

impl TenantWalk {
    fn new(tenants: Vec<TenantId>, range: KeyRange) -> Self {
        TenantWalk {
            tenants,
            range,
            at: 0,
            last: None,
        }
    }
}

impl Walk for TenantWalk {
    fn step(
        &mut self,
        state: &State,
        visit: &mut dyn FnMut(&Session) -> Result<bool, StoreError>,
    ) -> Result<bool, StoreError> {
        let index = if self.range.online_only {
            &state.online_by_tenant
        } else {
            &state.by_tenant
        };
        let mut read = 0;
        while let Some(&tenant) = self.tenants.get(self.at) {
            if let Some((from, to)) = id_bounds(&self.range, self.last) {
                let keys = index.range((from.map(|id| (tenant, id)), to.map(|id| (tenant, id))));
                let ids: Box<dyn Iterator<Item = &(TenantId, SessionId)>> = if self.range.descending {
                    Box::new(keys.rev())
                } else {
                    Box::new(keys)
                };
                if !visit_ids(ids.map(|&(_, id)| id), state, &mut read, &mut self.last, visit)? {
                    return Ok(false);
                }
            }
            self.at += 1;
            self.last = None;
        }
        Ok(true)
    }
}

/// Visits the sessions of `ids` in order, `read` counting them against the chunk and `last`
/// remembering where to resume, until `visit` says to move on; `false` when the chunk filled first.
fn visit_ids(
    ids: impl Iterator<Item = SessionId>,
    state: &State,
    read: &mut usize,
    last: &mut Option<SessionId>,
    visit: &mut dyn FnMut(&Session) -> Result<bool, StoreError>,
) -> Result<bool, StoreError> {
    for id in ids {
        if *read == CHUNK {
            return Ok(false);
        }
        *read += 1;
        *last = Some(id);
        let Some(session) = state.sessions.get(&id) else {
            continue;
        };
        if !visit(session)? {
            break;
        }
    }
    Ok(true)
}

/// The id bounds of `range` still to read after `last` (in the range's order); `None` when none.
fn id_bounds(range: &KeyRange, last: Option<SessionId>) -> Option<(Bound<SessionId>, Bound<SessionId>)> {
    let (mut from, mut from_open) = (range.from.unwrap_or(SessionId::MIN), false);
    let (mut to, mut to_open) = (range.to.unwrap_or(SessionId::MAX), false);
    match last {
        Some(last) if range.descending => (to, to_open) = (last, true),
        Some(last) => (from, from_open) = (last, true),
        None => {}
    }
    if from > to || (from == to && (from_open || to_open)) {
        return None;
    }
    let bound = |id, open| if open { Bound::Excluded(id) } else { Bound::Included(id) };
    Some((bound(from, from_open), bound(to, to_open)))
}

/// Every session of each of these user ids, in any tenant.
struct UserWalk {
    users: Vec<UserId>,
    at: usize,
    last: Option<SessionId>,
}

impl UserWalk {
    fn new(users: impl IntoIterator<Item = UserId>) -> Self {
        UserWalk {
            users: users.into_iter().collect(),
            at: 0,
            last: None,
        }
    }
}

impl Walk for UserWalk {
    fn step(
        &mut self,
        state: &State,
        visit: &mut dyn FnMut(&Session) -> Result<bool, StoreError>,
    ) -> Result<bool, StoreError> {
        let mut read = 0;
        while let Some(user) = self.users.get(self.at) {
            if let Some(ids) = state.by_user.get(user) {
                let from = self.last.map_or(Bound::Unbounded, Bound::Excluded);
                let ids = ids.range((from, Bound::Unbounded)).copied();
                if !visit_ids(ids, state, &mut read, &mut self.last, visit)? {
                    return Ok(false);
                }
            }
            self.at += 1;
            self.last = None;
        }
        Ok(true)
    }
}
