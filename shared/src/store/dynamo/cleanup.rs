//! [`CleanupStore`] on DynamoDB: the sparse, sharded cleanup indexes, read below a cutoff.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

use super::calls::{build_error, CounterChange, Write};
use super::codec::{bound_session_from, n, read_s, s, session_from, SweepCursor};
use super::schema::{attr, index};
use super::writes::by_tenant;
use super::{DynamoStore, Item, QUERY_PAGE_ITEMS, SHARDS};
use crate::domain::access::TokenHash;
use crate::domain::error::StoreError;
use crate::domain::{OfflineReason, Session, Timestamp};
use crate::store::{CleanupStore, SweepPage};

#[async_trait]
impl CleanupStore for DynamoStore {
    async fn stale_sessions(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Session>, StoreError> {
        let items = self
            .below_cutoff(
                || self.query_sessions().index_name(index::STALE_BY_SHARD),
                attr::ONLINE_SHARD,
                attr::LAST_SEEN_DATE,
                cutoff,
                limit,
            )
            .await?;
        items.iter().map(session_from).collect()
    }

    async fn end_stale_sessions(
        &self,
        sessions: &[Session],
        cutoff: Timestamp,
        at: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        let mut ended = Vec::new();
        for (tenant, sessions) in by_tenant(sessions) {
            ended.extend(
                self.end_of_tenant(tenant, sessions, at, OfflineReason::Stale, Some(cutoff))
                    .await?,
            );
        }
        Ok(ended)
    }

    async fn ended_sessions_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Session>, StoreError> {
        let items = self
            .below_cutoff(
                || self.query_sessions().index_name(index::ENDED_BY_SHARD),
                attr::ENDED_SHARD,
                attr::OFFLINE_DATE,
                cutoff,
                limit,
            )
            .await?;
        items.iter().map(session_from).collect()
    }

    async fn delete_ended_sessions(&self, sessions: &[Session]) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for (tenant, sessions) in by_tenant(sessions) {
            let actions = sessions
                .iter()
                .map(|s| self.delete_action(s))
                .collect::<Result<_, _>>()?;
            let applied = self
                .apply_each(actions, |n| {
                    Some(CounterChange {
                        tenant,
                        sessions: -n,
                        online: 0,
                    })
                })
                .await?;
            deleted += applied.into_iter().filter(|a| *a).count() as u64;
        }
        Ok(deleted)
    }

    /// Walks the `staleByShard` index (every online session, by shard), one query page at a time;
    /// the cursor is the shard and the page's last key.
    async fn online_sessions_page(&self, after: Option<&str>, limit: usize) -> Result<SweepPage, StoreError> {
        let (mut shard, mut start) = match after {
            None => (0, None),
            Some(cursor) => SweepCursor::parse(cursor)?,
        };
        let limit = i32::try_from(limit.clamp(1, QUERY_PAGE_ITEMS)).unwrap_or(1);
        while shard < SHARDS {
            let page = self
                .query_page(
                    self.query_sessions()
                        .index_name(index::STALE_BY_SHARD)
                        .key_condition_expression("#shard = :shard")
                        .expression_attribute_names("#shard", attr::ONLINE_SHARD)
                        .expression_attribute_values(":shard", s(shard.to_string()))
                        .limit(limit)
                        .set_exclusive_start_key(start.take()),
                )
                .await?;
            let sessions = page
                .items()
                .iter()
                .map(bound_session_from)
                .collect::<Result<Vec<_>, _>>()?;
            let next = match page.last_evaluated_key {
                // More of this shard: an empty page goes on reading it, a page answers.
                Some(key) if sessions.is_empty() => {
                    start = Some(key);
                    continue;
                }
                Some(key) => Some(SweepCursor::format(shard, &key)?),
                None => {
                    shard += 1;
                    if sessions.is_empty() {
                        continue;
                    }
                    (shard < SHARDS)
                        .then(|| SweepCursor::format(shard, &Item::new()))
                        .transpose()?
                }
            };
            return Ok(SweepPage { sessions, next });
        }
        Ok(SweepPage::default())
    }

    async fn expired_tokens(&self, now: Timestamp, limit: usize) -> Result<Vec<TokenHash>, StoreError> {
        let items = self
            .below_cutoff(
                || self.query_tokens().index_name(index::EXPIRY_BY_SHARD),
                attr::EXPIRY_SHARD,
                attr::EXPIRES_AT,
                now,
                limit,
            )
            .await?;
        items
            .iter()
            .map(|item| read_s(item, attr::TOKEN_HASH).map(TokenHash::from_stored))
            .collect()
    }

    async fn delete_expired_tokens(&self, hashes: &[TokenHash], now: Timestamp) -> Result<u64, StoreError> {
        let actions = hashes
            .iter()
            .map(|hash| {
                let delete = Delete::builder()
                    .table_name(&self.tables.tokens)
                    .key(attr::TOKEN_HASH, s(hash.as_str()))
                    .condition_expression("#exp < :now")
                    .expression_attribute_names("#exp", attr::EXPIRES_AT)
                    .expression_attribute_values(":now", n(now.millis()))
                    .build()
                    .map_err(build_error)?;
                Ok(Write::plain(TransactWriteItem::builder().delete(delete).build()))
            })
            .collect::<Result<_, StoreError>>()?;
        let applied = self.apply_each(actions, |_| None).await?;
        Ok(applied.into_iter().filter(|a| *a).count() as u64)
    }
}
