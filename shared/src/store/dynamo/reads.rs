//! The reads behind listings, presence and forced offlines: a tenant's sessions in key order
//! (the table or the online index), counts, a connection's session, a user's tenants, and the
//! cleanup indexes below a cutoff.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::Select;
use futures::{StreamExt, TryStreamExt};

use super::codec::{
    bound_session_from, connection_key, corrupt, counters_pk, counts_from, n, opt_n, opt_s, read_n, s, session_from,
    session_key, tenant_pk, Connection, SessionOf, SESSION_SK_PREFIX,
};
use super::schema::{attr, index};
use super::{DynamoStore, Item, CONCURRENCY, COUNTER_SHARDS, QUERY_PAGE_ITEMS, SHARDS};
use crate::domain::access::TenantScope;
use crate::domain::error::StoreError;
use crate::domain::{
    select_page, KeyRange, ReadMeter, Session, SessionId, SessionPage, SessionQuery, TenantId, Timestamp, UserId,
};
use crate::store::{SessionCounts, SessionStore, UserRef};

impl DynamoStore {
    /// The tenants that have (or had) sessions, with their counts: every counter shard's items,
    /// summed by tenant.
    pub(super) async fn tenants(&self) -> Result<Vec<(TenantId, SessionCounts)>, StoreError> {
        let shards: Vec<Vec<Item>> = futures::stream::iter(0..COUNTER_SHARDS)
            .map(|shard| {
                self.query_all(
                    self.query_sessions()
                        .key_condition_expression("#pk = :pk")
                        .expression_attribute_names("#pk", attr::PK)
                        .expression_attribute_values(":pk", s(counters_pk(shard)))
                        .consistent_read(true),
                )
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut tenants: BTreeMap<TenantId, Vec<&Item>> = BTreeMap::new();
        for item in shards.iter().flatten() {
            tenants
                .entry(TenantId(read_n(item, attr::TENANT_ID)?))
                .or_default()
                .push(item);
        }
        tenants
            .into_iter()
            .map(|(tenant, shards)| Ok((tenant, counts_from(shards)?)))
            .collect()
    }

    /// The query for a tenant's sessions in `range`, in the range's order: the table itself (every
    /// session, keyed by id) or the online index.
    pub(super) fn range_query(&self, tenant: TenantId, range: &KeyRange) -> QueryFluentBuilder {
        let from = range.from.unwrap_or(SessionId::MIN);
        let to = range.to.unwrap_or(SessionId::MAX);
        let query = if range.online_only {
            self.query_sessions()
                .index_name(index::ONLINE_BY_TENANT)
                .expression_attribute_names("#p", attr::ONLINE_TENANT)
                .expression_attribute_names("#s", attr::ID)
                .expression_attribute_values(":p", n(tenant.get()))
                .expression_attribute_values(":from", s(from.to_string()))
                .expression_attribute_values(":to", s(to.to_string()))
        } else {
            self.query_sessions()
                .expression_attribute_names("#p", attr::PK)
                .expression_attribute_names("#s", attr::SK)
                .expression_attribute_values(":p", s(tenant_pk(tenant)))
                .expression_attribute_values(":from", s(format!("{SESSION_SK_PREFIX}{from}")))
                .expression_attribute_values(":to", s(format!("{SESSION_SK_PREFIX}{to}")))
        };
        query
            .key_condition_expression("#p = :p AND #s BETWEEN :from AND :to")
            .scan_index_forward(!range.descending)
    }

    /// Every session of a tenant in `range`.
    pub(super) async fn sessions_in_range(
        &self,
        tenant: TenantId,
        range: &KeyRange,
    ) -> Result<Vec<Session>, StoreError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        self.query_all(self.range_query(tenant, range))
            .await?
            .iter()
            .map(session_from)
            .collect()
    }

    /// The first `want` sessions of a tenant in `range` that match `query`, in the range's order:
    /// reads `want` items when the range says all the query asks, a little more otherwise.
    pub(super) async fn first_in_range(
        &self,
        tenant: TenantId,
        range: &KeyRange,
        query: &SessionQuery,
        want: usize,
        meter: &ReadMeter,
    ) -> Result<Vec<Session>, StoreError> {
        let mut found = Vec::new();
        if range.is_empty() || want == 0 {
            return Ok(found);
        }
        let matcher = query.matcher();
        let mut start = None;
        loop {
            let missing = want - found.len();
            let limit = if range.residual {
                (missing * 2).clamp(100, QUERY_PAGE_ITEMS)
            } else {
                missing.min(QUERY_PAGE_ITEMS)
            };
            let page = self
                .query_page(
                    self.range_query(tenant, range)
                        .limit(limit as i32)
                        .set_exclusive_start_key(start),
                )
                .await?;
            for item in page.items() {
                // Counted as examined, as the memory store counts: the two refuse alike.
                meter.take(1)?;
                let session = session_from(item)?;
                if matcher.matches(&session) && query.is_after_cursor(&session) {
                    found.push(session);
                    if found.len() == want {
                        return Ok(found);
                    }
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    /// How many sessions of a tenant lie in `range` (a `COUNT` query: no items come back, but
    /// DynamoDB still reads the range's keys).
    pub(super) async fn count_in_range(&self, tenant: TenantId, range: &KeyRange) -> Result<u64, StoreError> {
        if range.is_empty() {
            return Ok(0);
        }
        let mut count = 0u64;
        let mut start = None;
        loop {
            let page = self
                .query_page(
                    self.range_query(tenant, range)
                        .select(Select::Count)
                        .set_exclusive_start_key(start),
                )
                .await?;
            count += page.count.max(0) as u64;
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    /// A listing served in key order (see [`crate::domain::plan`]): each tenant's first matches
    /// past the cursor, merged; `total` from the counters (`counts` when the caller has read them) or a
    /// count of the range.
    pub(super) async fn list_in_key_order(
        &self,
        scope: TenantScope,
        tenants: Vec<TenantId>,
        counts: Option<SessionCounts>,
        range: KeyRange,
        query: &SessionQuery,
        meter: &ReadMeter,
    ) -> Result<SessionPage, StoreError> {
        // One more than the page needs says whether another page follows.
        let want = query.end() + 1;
        let page_range = range.after(query.after.as_ref().map(|p| p.id));
        let firsts = futures::stream::iter(tenants.iter().copied())
            .map(|tenant| self.first_in_range(tenant, &page_range, query, want, meter))
            .buffered(CONCURRENCY)
            .try_collect::<Vec<_>>();
        let total = async {
            match range.counter {
                Some(counter) => {
                    let counts = match counts {
                        Some(counts) => counts,
                        None => self.session_counts(scope).await?,
                    };
                    Ok(counts.counted(counter))
                }
                None => {
                    futures::stream::iter(tenants.iter().copied())
                        .map(|tenant| self.count_in_range(tenant, &range))
                        .buffered(CONCURRENCY)
                        .try_fold(0u64, |sum, count| async move { Ok(sum + count) })
                        .await
                }
            }
        };
        let (firsts, total) = futures::try_join!(firsts, total)?;
        let mut page = select_page(firsts.into_iter().flatten(), query);
        page.total = total;
        Ok(page)
    }

    /// What is known of a connection, read consistently.
    pub(super) async fn connection(&self, connection_id: &str) -> Result<Connection, StoreError> {
        let (tenant, id) = match self.session_key_of(connection_id).await? {
            SessionOf::Unknown => return Ok(Connection::Unknown),
            SessionOf::None => return Ok(Connection::Closed),
            SessionOf::Key(tenant, id) => (tenant, id),
        };
        match self.get(&self.tables.sessions, session_key(tenant, id)).await? {
            Some(item) => bound_session_from(&item).map(|bound| Connection::Of(Box::new(bound))),
            None => Ok(Connection::Closed),
        }
    }

    /// Which session a connection carries (or carried), from its connection item alone.
    pub(super) async fn session_key_of(&self, connection_id: &str) -> Result<SessionOf, StoreError> {
        let Some(connection) = self.get(&self.tables.sessions, connection_key(connection_id)).await? else {
            return Ok(SessionOf::Unknown);
        };
        let Some(id) = opt_s(&connection, attr::SESSION_ID)? else {
            return Ok(SessionOf::None);
        };
        let tenant = TenantId(read_n(&connection, attr::TENANT_ID)?);
        let id = id.parse().map_err(|_| corrupt(attr::SESSION_ID))?;
        Ok(SessionOf::Key(tenant, id))
    }

    /// The tenants in `scope` where a user has a token or a session: its tokens first (a few
    /// items), then its sessions, reading only their `tenantId`; a one-tenant scope stops at the
    /// first sign of the user there. A user id may be known in several tenants (ids are the
    /// identity service's, and tenants do not share them by rule), so every one counts.
    pub(super) async fn user_tenants(
        &self,
        user_id: UserId,
        scope: TenantScope,
    ) -> Result<BTreeSet<TenantId>, StoreError> {
        let mut tenants = BTreeSet::new();
        for query in [
            self.query_tokens().index_name(index::TOKENS_BY_USER),
            self.query_sessions().index_name(index::SESSIONS_BY_USER),
        ] {
            let query = query
                .key_condition_expression("#u = :u")
                .projection_expression("#t")
                .expression_attribute_names("#u", attr::USER_ID)
                .expression_attribute_names("#t", attr::TENANT_ID)
                .expression_attribute_values(":u", n(user_id.get()));
            let mut start = None;
            loop {
                let page = self.query_page(query.clone().set_exclusive_start_key(start)).await?;
                for item in page.items() {
                    let tenant = TenantId(read_n(item, attr::TENANT_ID)?);
                    if scope.contains(tenant) {
                        tenants.insert(tenant);
                    }
                }
                if matches!(scope, TenantScope::Tenant(_)) && !tenants.is_empty() {
                    return Ok(tenants);
                }
                start = page.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(tenants)
    }

    /// Every online session of `user_id`, in whichever tenant (the `onlineByUser` index).
    pub(super) async fn online_sessions_of_user_id(&self, user_id: UserId) -> Result<Vec<Session>, StoreError> {
        self.query_all(
            self.query_sessions()
                .index_name(index::ONLINE_BY_USER)
                .key_condition_expression("#u = :u")
                .expression_attribute_names("#u", attr::ONLINE_USER)
                .expression_attribute_values(":u", n(user_id.get())),
        )
        .await?
        .iter()
        .map(session_from)
        .collect()
    }

    /// A user's online sessions in its tenant.
    pub(super) async fn online_sessions_of(&self, user: UserRef) -> Result<Vec<Session>, StoreError> {
        let mut sessions = self.online_sessions_of_user_id(user.user_id).await?;
        sessions.retain(|s| s.tenant_id == user.tenant_id);
        Ok(sessions)
    }

    /// Items of one cleanup index whose sort key is below `cutoff`, lowest first, across the
    /// shards, at most `limit`: each shard's query stops at `limit`, so a run reads what it acts
    /// on and the next run starts where this one stopped (acted-on items leave the index).
    pub(super) async fn below_cutoff(
        &self,
        query: impl Fn() -> QueryFluentBuilder,
        shard_attribute: &str,
        sort_attribute: &str,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let limit_i32 = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let mut items = Vec::new();
        for shard in 0..SHARDS {
            let page = self
                .query_page(
                    query()
                        .key_condition_expression("#shard = :shard AND #sort < :cutoff")
                        .expression_attribute_names("#shard", shard_attribute)
                        .expression_attribute_names("#sort", sort_attribute)
                        .expression_attribute_values(":shard", s(shard.to_string()))
                        .expression_attribute_values(":cutoff", n(cutoff.millis()))
                        .limit(limit_i32),
                )
                .await?;
            items.extend(page.items.unwrap_or_default());
        }
        items.sort_by_key(|item| opt_n(item, sort_attribute).ok().flatten());
        items.truncate(limit);
        Ok(items)
    }
}

/// The counts of every tenant together.
pub(super) fn sum_counts(tenants: &[(TenantId, SessionCounts)]) -> SessionCounts {
    tenants
        .iter()
        .fold(SessionCounts::default(), |sum, (_, c)| SessionCounts {
            sessions: sum.sessions + c.sessions,
            online: sum.online + c.online,
        })
}
