//! The conditional writes: a connection's tombstone, ending and deleting sessions (each with its
//! tenant's counter change, in transactions), new items, and revoking tokens. Every write is
//! conditional on the state it changes, so a repeat changes nothing.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use super::calls::{build_error, random_below, retry_conflicts, sdk_error, write_mark, CounterChange, Write};
use super::codec::{connection_key, counter_key, n, s, session_key, shard_of, CONNECTION_TTL_SECS};
use super::schema::{attr, SESSIONS_TTL_ATTRIBUTE};
use super::{DynamoStore, Item, COUNTER_SHARDS};
use crate::domain::access::TokenRecord;
use crate::domain::error::StoreError;
use crate::domain::{OfflineReason, Session, TenantId, Timestamp};
use crate::store::UserRef;

impl DynamoStore {
    /// Remembers an unknown connection as closed, so that a `$connect` arriving after its
    /// `$disconnect` is refused; `false` when the connection became known meanwhile.
    pub(super) async fn put_tombstone(&self, connection_id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let mut item = connection_key(connection_id);
        item.insert(SESSIONS_TTL_ATTRIBUTE.into(), n(at.secs() + CONNECTION_TTL_SECS));
        let put = self
            .client
            .put_item()
            .table_name(&self.tables.sessions)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK);
        let result = retry_conflicts(|| put.clone().send()).await;
        self.usage.wrote(1);
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }

    /// Ends `sessions` (all of one tenant) that are still online (and, with `seen_before`, still
    /// last seen before it); returns the sessions this call ended.
    pub(super) async fn end_of_tenant(
        &self,
        tenant: TenantId,
        sessions: Vec<Session>,
        at: Timestamp,
        reason: OfflineReason,
        seen_before: Option<Timestamp>,
    ) -> Result<Vec<Session>, StoreError> {
        let actions = sessions
            .iter()
            .map(|s| self.end_action(s, s.end_time(at), reason, seen_before))
            .collect::<Result<_, _>>()?;
        let applied = self
            .apply_each(actions, |n| {
                Some(CounterChange {
                    tenant,
                    sessions: 0,
                    online: -n,
                })
            })
            .await?;
        Ok(sessions
            .into_iter()
            .zip(applied)
            .filter(|(_, applied)| *applied)
            .map(|(s, _)| s.ended(at, reason))
            .collect())
    }

    /// Ends one session if it is still online (and last seen before `seen_before`), moving it from
    /// the online indexes to the ended one.
    pub(super) fn end_action(
        &self,
        session: &Session,
        at: Timestamp,
        reason: OfflineReason,
        seen_before: Option<Timestamp>,
    ) -> Result<Write, StoreError> {
        // This write's own mark: two calls may end a session at the same time for the same reason
        // (in the same millisecond, or both at its start), and only one of them ended it.
        let ended_by = write_mark();
        let mut update = Update::builder()
            .table_name(&self.tables.sessions)
            .set_key(Some(session_key(session.tenant_id, session.id)))
            .update_expression("SET #off = :at, #reason = :reason, #ended = :shard, #by = :by REMOVE #ot, #ou, #os")
            .condition_expression("attribute_exists(#ot)")
            .expression_attribute_names("#off", attr::OFFLINE_DATE)
            .expression_attribute_names("#reason", attr::OFFLINE_REASON)
            .expression_attribute_names("#ended", attr::ENDED_SHARD)
            .expression_attribute_names("#by", attr::ENDED_BY)
            .expression_attribute_names("#ot", attr::ONLINE_TENANT)
            .expression_attribute_names("#ou", attr::ONLINE_USER)
            .expression_attribute_names("#os", attr::ONLINE_SHARD)
            .expression_attribute_values(":at", n(at.millis()))
            .expression_attribute_values(":reason", s(reason.as_str()))
            .expression_attribute_values(":shard", s(shard_of(session.id)))
            .expression_attribute_values(":by", s(&ended_by))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(cutoff) = seen_before {
            update = update
                .condition_expression("attribute_exists(#ot) AND #seen < :cutoff")
                .expression_attribute_names("#seen", attr::LAST_SEEN_DATE)
                .expression_attribute_values(":cutoff", n(cutoff.millis()));
        }
        Ok(Write {
            action: TransactWriteItem::builder()
                .update(update.build().map_err(build_error)?)
                .build(),
            landed: vec![(attr::ENDED_BY, s(ended_by))],
            counter: None,
        })
    }

    /// Deletes one session if it has ended.
    pub(super) fn delete_action(&self, session: &Session) -> Result<Write, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.tables.sessions)
            .set_key(Some(session_key(session.tenant_id, session.id)))
            .condition_expression("attribute_exists(#off)")
            .expression_attribute_names("#off", attr::OFFLINE_DATE)
            .build()
            .map_err(build_error)?;
        Ok(Write::plain(TransactWriteItem::builder().delete(delete).build()))
    }

    /// Adds to one of a tenant's counter shards, drawn at random (creating it at zero).
    pub(super) fn count_update(&self, change: CounterChange) -> Result<Update, StoreError> {
        let shard = random_below(u64::from(COUNTER_SHARDS)) as u32;
        Update::builder()
            .table_name(&self.tables.sessions)
            .set_key(Some(counter_key(change.tenant, shard)))
            .update_expression("SET #tenant = :tenant ADD #sessions :sessions, #online :online")
            .expression_attribute_names("#tenant", attr::TENANT_ID)
            .expression_attribute_names("#sessions", attr::SESSIONS)
            .expression_attribute_names("#online", attr::ONLINE)
            .expression_attribute_values(":tenant", n(change.tenant.get()))
            .expression_attribute_values(":sessions", n(change.sessions))
            .expression_attribute_values(":online", n(change.online))
            .build()
            .map_err(build_error)
    }

    /// A counter change as a write of a transaction.
    pub(super) fn counter_write(&self, change: CounterChange) -> Result<Write, StoreError> {
        Ok(Write {
            action: TransactWriteItem::builder().update(self.count_update(change)?).build(),
            landed: Vec::new(),
            counter: Some(change),
        })
    }

    /// Puts an item into `table` that must not exist yet (the old item comes back when it does);
    /// `mark`, if any, is the attribute that makes it this call's.
    pub(super) fn put_new(&self, table: &str, item: Item, mark: Option<&'static str>) -> Result<Write, StoreError> {
        let landed = mark
            .and_then(|mark| item.get(mark).cloned().map(|value| (mark, value)))
            .into_iter()
            .collect();
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        Ok(Write {
            action: TransactWriteItem::builder().put(put).build(),
            landed,
            counter: None,
        })
    }

    /// Revokes the tokens of `user` in its tenant that the `byUser` index shows
    /// ([`DynamoStore::indexed_user_tokens`]); how many this call revoked.
    pub(super) async fn revoke_tokens_of(&self, user: UserRef, at: Timestamp) -> Result<u64, StoreError> {
        let tokens = self.indexed_user_tokens(user).await?;
        self.revoke_tokens(tokens, at).await
    }

    /// Revokes these tokens, those not revoked yet, in transactions of up to 99 conditional
    /// updates (a tenant of 10,000 tokens is ~100 calls, at twice the write units of single
    /// updates); returns how many this call revoked (one revoked meanwhile is not counted).
    pub(super) async fn revoke_tokens(&self, tokens: Vec<TokenRecord>, at: Timestamp) -> Result<u64, StoreError> {
        let actions = tokens
            .iter()
            .filter(|t| t.revoked_at.is_none())
            .map(|token| {
                // This write's own mark, as for ending a session ([`DynamoStore::end_action`]).
                let revoked_by = write_mark();
                let update = Update::builder()
                    .table_name(&self.tables.tokens)
                    .key(attr::TOKEN_HASH, s(token.hash.as_str()))
                    .update_expression("SET #revoked = :at, #by = :by")
                    .condition_expression("attribute_exists(#hash) AND attribute_not_exists(#revoked)")
                    .expression_attribute_names("#revoked", attr::REVOKED_AT)
                    .expression_attribute_names("#by", attr::REVOKED_BY)
                    .expression_attribute_names("#hash", attr::TOKEN_HASH)
                    .expression_attribute_values(":at", n(at.millis()))
                    .expression_attribute_values(":by", s(&revoked_by))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(build_error)?;
                Ok(Write {
                    action: TransactWriteItem::builder().update(update).build(),
                    landed: vec![(attr::REVOKED_BY, s(revoked_by))],
                    counter: None,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let applied = self.apply_each(actions, |_| None).await?;
        Ok(applied.into_iter().filter(|a| *a).count() as u64)
    }
}

/// Sessions grouped by tenant (each tenant's counter moves with its sessions).
pub(super) fn by_tenant(sessions: &[Session]) -> BTreeMap<TenantId, Vec<Session>> {
    let mut grouped: BTreeMap<TenantId, Vec<Session>> = BTreeMap::new();
    for session in sessions {
        grouped.entry(session.tenant_id).or_default().push(session.clone());
    }
    grouped
}
