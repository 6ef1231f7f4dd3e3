//! [`SessionStore`] on DynamoDB: presence writes (one transaction each) and the listing reads.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ConditionCheck, ReturnValue, TransactWriteItem, Update};
use futures::{StreamExt, TryStreamExt};

use super::calls::{build_error, retry_conflicts, sdk_error, CounterChange, Transacted, Write};
use super::codec::{
    bound_session_from, connect_rate_key, connection_item, counter_key, counts_from, n, s, session_from, session_item,
    session_key, Connection, SessionOf,
};
use super::reads::sum_counts;
use super::schema::{attr, index, SESSIONS_TTL_ATTRIBUTE};
use super::writes::by_tenant;
use super::{DynamoStore, CONCURRENCY, COUNTER_SHARDS};
use crate::domain::access::TenantScope;
use crate::domain::error::StoreError;
use crate::domain::{OfflineReason, Session, SessionId, SessionPage, SessionQuery, Timestamp, UserId};
use crate::store::{BoundSession, ConnectCheck, Opened, SessionCounts, SessionStore};

#[async_trait]
impl SessionStore for DynamoStore {
    async fn open_session(&self, session: &Session, check: Option<&ConnectCheck>) -> Result<Opened, StoreError> {
        let mut writes = vec![
            self.put_new(
                &self.tables.sessions,
                session_item(session, check.map(|c| &c.token)),
                Some(attr::ID),
            )?,
            self.put_new(&self.tables.sessions, connection_item(session), Some(attr::SESSION_ID))?,
            self.counter_write(CounterChange {
                tenant: session.tenant_id,
                sessions: 1,
                online: i64::from(session.online()),
            })?,
        ];
        // Where each check stands in the transaction, to read its cancellation reason.
        let mut token_check = None;
        let mut rate_check = None;
        if let Some(check) = check {
            let unrevoked = ConditionCheck::builder()
                .table_name(&self.tables.tokens)
                .key(attr::TOKEN_HASH, s(check.token.as_str()))
                .condition_expression("attribute_exists(#hash) AND attribute_not_exists(#revoked)")
                .expression_attribute_names("#hash", attr::TOKEN_HASH)
                .expression_attribute_names("#revoked", attr::REVOKED_AT)
                .build()
                .map_err(build_error)?;
            token_check = Some(writes.len());
            writes.push(Write::plain(
                TransactWriteItem::builder().condition_check(unrevoked).build(),
            ));
            if let Some(limit) = check.per_minute {
                let minute = session.online_date.epoch_minute();
                let within_rate = Update::builder()
                    .table_name(&self.tables.sessions)
                    .set_key(Some(connect_rate_key(session.tenant_id, session.user_id, minute)))
                    .update_expression("SET #ttl = :ttl ADD #n :one")
                    .condition_expression("attribute_not_exists(#n) OR #n < :limit")
                    .expression_attribute_names("#n", attr::CONNECTS)
                    .expression_attribute_names("#ttl", SESSIONS_TTL_ATTRIBUTE)
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":limit", n(i64::from(limit)))
                    .expression_attribute_values(":ttl", n((minute + 2) * 60))
                    .build()
                    .map_err(build_error)?;
                rate_check = Some(writes.len());
                writes.push(Write::plain(TransactWriteItem::builder().update(within_rate).build()));
            }
        }
        // The name index is kept beside the transaction (one read when the name is known): a
        // connect refused after it only leaves a name indexed that no session has yet. Its
        // failure (throttled past the SDK's retries) does not fail the connect, whose session
        // may already be recorded: the name stays unmarked, so the user's next connect indexes it.
        let (transacted, indexed) = futures::join!(
            self.transact_detailed(writes),
            self.index_name(session.tenant_id, session.user_id, &session.full_name)
        );
        if let Err(error) = indexed {
            tracing::warn!(%error, "the session's name is not indexed yet");
        }
        let reasons = match transacted? {
            Transacted::Written => return Ok(Opened::Recorded),
            Transacted::Refused(reasons) => reasons,
        };
        let failed = |at: Option<usize>| {
            at.and_then(|i| reasons.get(i))
                .is_some_and(|reason| reason.code() == Some("ConditionalCheckFailed"))
        };
        Ok(if failed(token_check) {
            Opened::TokenRevoked
        } else if failed(rate_check) {
            Opened::RateLimited
        } else {
            Opened::ConnectionKnown
        })
    }

    async fn close_connection(
        &self,
        connection_id: &str,
        at: Timestamp,
        reason: OfflineReason,
    ) -> Result<Option<Session>, StoreError> {
        // Twice at most: an unknown connection whose tombstone loses to a concurrent connect is
        // read again, and then known.
        for _ in 0..2 {
            match self.connection(connection_id).await? {
                Connection::Of(bound) if bound.session.online() => {
                    let tenant = bound.session.tenant_id;
                    return Ok(self
                        .end_of_tenant(tenant, vec![bound.session], at, reason, None)
                        .await?
                        .pop());
                }
                Connection::Of(_) | Connection::Closed => return Ok(None),
                Connection::Unknown => {
                    if self.put_tombstone(connection_id, at).await? {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(None)
    }

    /// Two calls on the hot path: the connection item, then the session's update conditioned on
    /// its being online, which returns the session (no read of the session first).
    async fn touch_connection(&self, connection_id: &str, at: Timestamp) -> Result<Option<BoundSession>, StoreError> {
        let SessionOf::Key(tenant, id) = self.session_key_of(connection_id).await? else {
            return Ok(None);
        };
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(session_key(tenant, id)))
            .update_expression("SET #seen = :at")
            .condition_expression("attribute_exists(#ot) AND #seen <= :at")
            .expression_attribute_names("#seen", attr::LAST_SEEN_DATE)
            .expression_attribute_names("#ot", attr::ONLINE_TENANT)
            .expression_attribute_values(":at", n(at.millis()))
            .return_values(ReturnValue::AllNew);
        let result = retry_conflicts(|| update.clone().send()).await;
        self.usage.wrote(1);
        match result {
            Ok(output) => output.attributes.as_ref().map(bound_session_from).transpose(),
            // Ended (or gone), or a later heartbeat already landed: the session stands as it is.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(match self.connection(connection_id).await? {
                    Connection::Of(bound) if bound.session.online() => Some(*bound),
                    _ => None,
                })
            }
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }

    async fn end_sessions(
        &self,
        sessions: &[Session],
        at: Timestamp,
        reason: OfflineReason,
    ) -> Result<Vec<Session>, StoreError> {
        let ended: Vec<Vec<Session>> = futures::stream::iter(by_tenant(sessions))
            .map(|(tenant, sessions)| self.end_of_tenant(tenant, sessions, at, reason, None))
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(ended.into_iter().flatten().collect())
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
        let newest = async {
            // Newest first, one page more than the limit, enough to hold `ended_limit` ended ones
            // unless the user has many online sessions (those come from the online index anyway).
            let output = self
                .query_page(
                    self.query_sessions()
                        .index_name(index::SESSIONS_BY_USER)
                        .key_condition_expression("#u = :u")
                        .expression_attribute_names("#u", attr::USER_ID)
                        .expression_attribute_values(":u", n(user_id.get()))
                        .scan_index_forward(false)
                        .limit(i32::try_from(ended_limit + 1).unwrap_or(i32::MAX)),
                )
                .await?;
            output.items().iter().map(session_from).collect::<Result<Vec<_>, _>>()
        };
        let online = self.online_sessions_of_user_id(user_id);
        let (newest, online) = futures::try_join!(newest, online)?;
        let by_id: BTreeMap<SessionId, Session> = online
            .into_iter()
            .chain(newest)
            .filter(|s| scope.contains(s.tenant_id))
            .map(|s| (s.id, s))
            .collect();
        let mut ended = 0;
        Ok(by_id
            .into_values()
            .rev()
            .filter(|s| {
                s.online() || {
                    ended += 1;
                    ended <= ended_limit
                }
            })
            .collect())
    }

    async fn session_counts(&self, scope: TenantScope) -> Result<SessionCounts, StoreError> {
        match scope {
            TenantScope::Tenant(tenant) => {
                let keys = (0..COUNTER_SHARDS).map(|shard| counter_key(tenant, shard)).collect();
                let shards = self.batch_get(&self.tables.sessions, keys).await?;
                counts_from(shards.iter())
            }
            TenantScope::All => Ok(sum_counts(&self.tenants().await?)),
        }
    }
}
