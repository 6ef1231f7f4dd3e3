//! [`AuditStore`] on DynamoDB: the audit table (see the store's module docs for its keys).
//!
//! A record is written in one transaction with its request's marker item, each put only where its
//! key is free: a second write for the same tenant and request id fails the marker's condition
//! and writes nothing (`Ok(false)`), and a transaction whose answer was lost and whose retry then
//! fails recognises its own marker (the record's `sk` is on it), so it still counts as written.
//! Two records of one tenant and millisecond drawing the same id (one chance in a million) fail
//! the record's condition alone: the write is tried again with a new id.
//!
//! Reads are key-ordered queries of the time range: a tenant's partition, or `auditByTime` for
//! every tenant; each page's items count against the read budget.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};

use super::calls::{build_error, Transacted, Write};
use super::codec::{n, opt_s, put_opt, read_n, read_s, s};
use super::schema::{attr, index, AUDIT_SHARD, AUDIT_TTL_ATTRIBUTE};
use super::{DynamoStore, Item, QUERY_PAGE_ITEMS};
use crate::domain::access::TenantScope;
use crate::domain::audit::{AuditId, AuditRecord, TargetType, TimeRange};
use crate::domain::error::StoreError;
use crate::domain::{ReadBudget, TenantId, Timestamp, UserId};
use crate::store::AuditStore;

/// Attempts at a record whose id another record of the same millisecond already holds.
const ID_ATTEMPTS: usize = 3;

fn audit_pk(tenant: TenantId) -> String {
    format!("A#{tenant}")
}

/// A record's sort key: its time, then its id, both zero-padded so text order is time order.
fn audit_sk(at: i64, id: AuditId) -> String {
    format!("{:015}#{:019}", at.max(0), id.get().max(0))
}

fn marker_key(tenant: TenantId, request_id: &str) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), s(format!("R#{tenant}#{request_id}"))),
        (attr::SK.to_owned(), s("R")),
    ])
}

/// The sort-key bounds of `range`, inclusive; `None` when it holds nothing.
fn sk_bounds(range: TimeRange) -> Option<(String, String)> {
    if range.is_empty() || range.to.is_some_and(|to| to.millis() < 0) {
        return None;
    }
    let low = format!("{:015}#", range.from.map_or(0, Timestamp::millis).max(0));
    let high = match range.to {
        Some(to) => format!("{:015}#~", to.millis()),
        None => "~".to_owned(),
    };
    Some((low, high))
}

fn audit_item(record: &AuditRecord, sk: &str, expires: Timestamp) -> Item {
    let mut item = HashMap::from([
        (attr::PK.to_owned(), s(audit_pk(record.tenant_id))),
        (attr::SK.to_owned(), s(sk)),
        (attr::AUDIT_SHARD.to_owned(), s(AUDIT_SHARD)),
        (attr::ID.to_owned(), n(record.id.get())),
        (attr::TENANT_ID.to_owned(), n(record.tenant_id.get())),
        (attr::OPERATOR_USER_ID.to_owned(), n(record.operator_user_id.get())),
        (attr::OPERATOR_FULL_NAME.to_owned(), s(&record.operator_full_name)),
        (attr::TARGET_TYPE.to_owned(), s(record.target_type.as_str())),
        (
            attr::TARGET_IDS.to_owned(),
            AttributeValue::L(record.target_ids.iter().map(|id| n(*id)).collect()),
        ),
        (attr::BROADCAST.to_owned(), AttributeValue::Bool(record.broadcast)),
        (attr::USERS.to_owned(), n(record.users as i64)),
        (attr::SESSIONS.to_owned(), n(record.sessions as i64)),
        (attr::TOKENS.to_owned(), n(record.tokens as i64)),
        (attr::CONNECTIONS.to_owned(), n(record.connections as i64)),
        (
            attr::SKIPPED_IDS.to_owned(),
            AttributeValue::L(record.skipped_ids.iter().map(s).collect()),
        ),
        (attr::REQUEST_ID.to_owned(), s(&record.request_id)),
        (attr::DATETIME.to_owned(), n(record.datetime.millis())),
        (AUDIT_TTL_ATTRIBUTE.to_owned(), n(expires.secs())),
    ]);
    put_opt(&mut item, attr::REMOTE_ADDRESS, record.remote_address.as_deref());
    put_opt(&mut item, attr::USER_AGENT, record.user_agent.as_deref());
    item
}

fn corrupt(name: &str) -> StoreError {
    StoreError::Failure(format!("stored audit record has a missing or malformed `{name}`"))
}

fn read_list<T>(item: &Item, name: &str, each: impl Fn(&AttributeValue) -> Option<T>) -> Result<Vec<T>, StoreError> {
    match item.get(name) {
        Some(AttributeValue::L(values)) => values.iter().map(|v| each(v).ok_or_else(|| corrupt(name))).collect(),
        _ => Err(corrupt(name)),
    }
}

fn count(item: &Item, name: &str) -> Result<u64, StoreError> {
    u64::try_from(read_n(item, name)?).map_err(|_| corrupt(name))
}

fn audit_from(item: &Item) -> Result<AuditRecord, StoreError> {
    let target_type = read_s(item, attr::TARGET_TYPE)?;
    Ok(AuditRecord {
        id: AuditId(read_n(item, attr::ID)?),
        tenant_id: TenantId(read_n(item, attr::TENANT_ID)?),
        operator_user_id: UserId(read_n(item, attr::OPERATOR_USER_ID)?),
        operator_full_name: read_s(item, attr::OPERATOR_FULL_NAME)?,
        target_type: TargetType::parse(&target_type).ok_or_else(|| corrupt(attr::TARGET_TYPE))?,
        target_ids: read_list(item, attr::TARGET_IDS, |v| v.as_n().ok()?.parse().ok())?,
        broadcast: match item.get(attr::BROADCAST) {
            Some(AttributeValue::Bool(b)) => *b,
            _ => return Err(corrupt(attr::BROADCAST)),
        },
        users: count(item, attr::USERS)?,
        sessions: count(item, attr::SESSIONS)?,
        tokens: count(item, attr::TOKENS)?,
        connections: count(item, attr::CONNECTIONS)?,
        skipped_ids: read_list(item, attr::SKIPPED_IDS, |v| v.as_s().ok().cloned())?,
        request_id: read_s(item, attr::REQUEST_ID)?,
        remote_address: opt_s(item, attr::REMOTE_ADDRESS)?,
        user_agent: opt_s(item, attr::USER_AGENT)?,
        datetime: Timestamp::from_millis(read_n(item, attr::DATETIME)?),
    })
}

impl DynamoStore {
    fn query_audit(&self) -> QueryFluentBuilder {
        self.client.query().table_name(&self.tables.audit)
    }

    /// Every item `query` yields (a key condition on `#pk`/`#sk` is the caller's), page by page,
    /// refused once more than `budget` items were read.
    async fn audit_within_budget(
        &self,
        query: QueryFluentBuilder,
        budget: ReadBudget,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .query_page(
                    query
                        .clone()
                        .limit(QUERY_PAGE_ITEMS as i32)
                        .set_exclusive_start_key(start),
                )
                .await?;
            items.extend(page.items.unwrap_or_default());
            if items.len() > budget.0 {
                return Err(StoreError::ReadBudget(budget.0));
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

#[async_trait]
impl AuditStore for DynamoStore {
    async fn record_audit(&self, record: &AuditRecord, expires: Timestamp) -> Result<bool, StoreError> {
        let mut id = record.id;
        for _ in 0..ID_ATTEMPTS {
            let sk = audit_sk(record.datetime.millis(), id);
            let record = AuditRecord { id, ..record.clone() };
            let mut marker = marker_key(record.tenant_id, &record.request_id);
            marker.insert(attr::RECORD_SK.to_owned(), s(&sk));
            let table = &self.tables.audit;
            let writes = vec![
                self.put_new(table, audit_item(&record, &sk, expires), None)?,
                self.put_new(table, marker, Some(attr::RECORD_SK))?,
            ];
            let reasons = match self.transact_detailed(writes).await? {
                Transacted::Written => return Ok(true),
                Transacted::Refused(reasons) => reasons,
            };
            let failed = |n: usize| reasons.get(n).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
            if failed(1) {
                // The request is recorded already (by another delivery of it).
                return Ok(false);
            }
            if !failed(0) {
                return Err(StoreError::Failure(format!("audit record refused: {reasons:?}")));
            }
            id = AuditId::new_at(record.datetime);
        }
        Err(StoreError::Unavailable("audit record ids kept colliding".into()))
    }

    async fn audit_records(
        &self,
        scope: TenantScope,
        range: TimeRange,
        budget: ReadBudget,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let Some((low, high)) = sk_bounds(range) else {
            return Ok(Vec::new());
        };
        let query = match scope {
            TenantScope::Tenant(tenant) => self
                .query_audit()
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_values(":pk", s(audit_pk(tenant))),
            TenantScope::All => self
                .query_audit()
                .index_name(index::AUDIT_BY_TIME)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                .expression_attribute_names("#pk", attr::AUDIT_SHARD)
                .expression_attribute_values(":pk", s(AUDIT_SHARD)),
        }
        .expression_attribute_names("#sk", attr::SK)
        .expression_attribute_values(":low", s(low))
        .expression_attribute_values(":high", s(high));
        self.audit_within_budget(query, budget)
            .await?
            .iter()
            .map(audit_from)
            .collect()
    }

    async fn audit_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let page = self
            .query_page(
                self.query_audit()
                    .index_name(index::AUDIT_BY_TIME)
                    .key_condition_expression("#pk = :pk AND #sk < :cutoff")
                    .expression_attribute_names("#pk", attr::AUDIT_SHARD)
                    .expression_attribute_names("#sk", attr::SK)
                    .expression_attribute_values(":pk", s(AUDIT_SHARD))
                    .expression_attribute_values(":cutoff", s(format!("{:015}#", cutoff.millis().max(0))))
                    .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX)),
            )
            .await?;
        page.items.unwrap_or_default().iter().map(audit_from).collect()
    }

    async fn delete_audit(&self, records: &[AuditRecord]) -> Result<u64, StoreError> {
        let delete = |key: Item, must_exist: bool| -> Result<Write, StoreError> {
            let mut delete = Delete::builder().table_name(&self.tables.audit).set_key(Some(key));
            if must_exist {
                delete = delete
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", attr::PK);
            }
            let delete = delete.build().map_err(build_error)?;
            Ok(Write::plain(TransactWriteItem::builder().delete(delete).build()))
        };
        let mut actions = Vec::with_capacity(records.len() * 2);
        for record in records {
            let key = HashMap::from([
                (attr::PK.to_owned(), s(audit_pk(record.tenant_id))),
                (attr::SK.to_owned(), s(audit_sk(record.datetime.millis(), record.id))),
            ]);
            // The record only where it still is (so two runs count it once), then its marker.
            actions.push(delete(key, true)?);
            actions.push(delete(marker_key(record.tenant_id, &record.request_id), false)?);
        }
        let applied = self.apply_each(actions, |_| None).await?;
        Ok(applied.iter().step_by(2).filter(|deleted| **deleted).count() as u64)
    }
}
