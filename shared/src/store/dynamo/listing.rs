//! Listings on DynamoDB, read the way [`crate::domain::plan`] chooses: a page in key order, the
//! sessions of named users (`byUser`), the users the name index finds for a search, or a scan of
//! an id range, every one of them counted against the listing's read budget.

use std::collections::BTreeSet;

use futures::{StreamExt, TryStreamExt};

use super::codec::{n, session_from};
use super::reads::sum_counts;
use super::schema::{attr, index};
use super::{DynamoStore, CONCURRENCY, USER_CONCURRENCY};
use crate::domain::access::TenantScope;
use crate::domain::error::StoreError;
use crate::domain::plan::{deep_page, deep_page_answer};
use crate::domain::{
    plan, KeyRange, ListingPlan, PageSelector, ReadMeter, SessionPage, SessionQuery, TenantId, UserId,
};
use crate::store::{SessionCounts, SessionStore};

impl DynamoStore {
    /// [`SessionStore::list_sessions`]: one page of the sessions in `scope` that match `query`.
    pub(super) async fn list(&self, scope: TenantScope, query: &SessionQuery) -> Result<SessionPage, StoreError> {
        let meter = ReadMeter::new(query.read_budget);
        match plan(query) {
            ListingPlan::KeyOrder(range) => {
                let (tenants, counts) = self.tenants_in(scope).await?;
                if deep_page(query) {
                    return self.past_the_budget(scope, counts, &range, query).await;
                }
                self.list_in_key_order(scope, tenants, counts, range, query, &meter)
                    .await
            }
            ListingPlan::Users(users) => self.list_users(scope, users, query, &meter).await,
            ListingPlan::Names { gram, needle } => {
                let (tenants, _) = self.tenants_in(scope).await?;
                let named: Vec<BTreeSet<UserId>> = futures::stream::iter(tenants)
                    .map(|tenant| self.users_named(tenant, &gram, &needle))
                    .buffer_unordered(CONCURRENCY)
                    .try_collect()
                    .await?;
                let users = named.into_iter().flatten().collect();
                self.list_users(scope, users, query, &meter).await
            }
            ListingPlan::Scan(range) => {
                let (tenants, _) = self.tenants_in(scope).await?;
                let parts: Vec<PageSelector> = futures::stream::iter(tenants)
                    .map(|tenant| self.scan_range(tenant, &range, query, &meter))
                    .buffer_unordered(CONCURRENCY)
                    .try_collect()
                    .await?;
                Ok(merged(query, parts))
            }
        }
    }

    /// The tenants of `scope`; for a platform caller, with their counts (the one read that lists
    /// the tenants gives them).
    async fn tenants_in(&self, scope: TenantScope) -> Result<(Vec<TenantId>, Option<SessionCounts>), StoreError> {
        Ok(match scope {
            TenantScope::Tenant(tenant) => (vec![tenant], None),
            TenantScope::All => {
                let tenants = self.tenants().await?;
                let counts = sum_counts(&tenants);
                (tenants.into_iter().map(|(tenant, _)| tenant).collect(), Some(counts))
            }
        })
    }

    /// A key-ordered page deeper than the read budget, answered from the counters alone.
    async fn past_the_budget(
        &self,
        scope: TenantScope,
        counts: Option<SessionCounts>,
        range: &KeyRange,
        query: &SessionQuery,
    ) -> Result<SessionPage, StoreError> {
        let total = match (range.counter, counts) {
            (None, _) => None,
            (Some(counter), Some(counts)) => Some(counts.counted(counter)),
            (Some(counter), None) => Some(self.session_counts(scope).await?.counted(counter)),
        };
        deep_page_answer(query, total)
    }

    /// The page among the sessions of `users` (each user's, from `byUser`, kept in `scope`),
    /// the users read concurrently.
    async fn list_users(
        &self,
        scope: TenantScope,
        users: BTreeSet<UserId>,
        query: &SessionQuery,
        meter: &ReadMeter,
    ) -> Result<SessionPage, StoreError> {
        let parts: Vec<PageSelector> = futures::stream::iter(users)
            .map(|user| async move {
                let mut selector = PageSelector::new(query);
                let mut start = None;
                loop {
                    let page = self
                        .query_page(
                            self.query_sessions()
                                .index_name(index::SESSIONS_BY_USER)
                                .key_condition_expression("#u = :u")
                                .expression_attribute_names("#u", attr::USER_ID)
                                .expression_attribute_values(":u", n(user.get()))
                                .set_exclusive_start_key(start),
                        )
                        .await?;
                    meter.take(page.items().len())?;
                    for item in page.items() {
                        let session = session_from(item)?;
                        if scope.contains(session.tenant_id) {
                            selector.offer(session);
                        }
                    }
                    start = page.last_evaluated_key;
                    if start.is_none() {
                        return Ok::<_, StoreError>(selector);
                    }
                }
            })
            .buffer_unordered(USER_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(merged(query, parts))
    }

    /// Every session of a tenant in `range`, offered to a page of `query` as each query page
    /// arrives (memory for one page-end of sessions, not the range).
    async fn scan_range<'q>(
        &self,
        tenant: TenantId,
        range: &KeyRange,
        query: &'q SessionQuery,
        meter: &ReadMeter,
    ) -> Result<PageSelector<'q>, StoreError> {
        let mut selector = PageSelector::new(query);
        if range.is_empty() {
            return Ok(selector);
        }
        let mut start = None;
        loop {
            let page = self
                .query_page(self.range_query(tenant, range).set_exclusive_start_key(start))
                .await?;
            meter.take(page.items().len())?;
            for item in page.items() {
                selector.offer(session_from(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(selector);
            }
        }
    }
}

/// One page from the pages of several parts (tenants, users) of a listing.
fn merged<'q>(query: &'q SessionQuery, parts: Vec<PageSelector<'q>>) -> SessionPage {
    let mut all = PageSelector::new(query);
    for part in parts {
        all.merge(part);
    }
    all.finish()
}
