//! The embedded store's audit trail: the records by tenant and time (the table's `A#<tenant>`
//! partitions, in key order), every record by time (`auditByTime`), and the requests recorded
//! (the marker items), changed together under the store's one lock, so a request is recorded
//! once however many calls race. Records leave only through the cleanup (there is no TTL here).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::access::TenantScope;
use crate::domain::audit::{AuditId, AuditRecord, TimeRange};
use crate::domain::error::StoreError;
use crate::domain::{ReadBudget, TenantId, Timestamp};
use crate::store::AuditStore;

/// Where a record sits: its time (epoch ms), then its id.
type Key = (i64, AuditId);

#[derive(Default)]
pub(super) struct AuditTrail {
    /// Per tenant, its records in time order.
    by_tenant: BTreeMap<TenantId, BTreeMap<Key, AuditRecord>>,
    /// Every record's tenant, in time order (the index the platform listing and the cleanup read).
    by_time: BTreeSet<(Key, TenantId)>,
    /// The requests recorded, per tenant.
    requests: BTreeSet<(TenantId, String)>,
}

fn key(record: &AuditRecord) -> Key {
    (record.datetime.millis(), record.id)
}

fn bounds(range: TimeRange) -> std::ops::RangeInclusive<Key> {
    let from = range.from.map_or(i64::MIN, Timestamp::millis);
    let to = range.to.map_or(i64::MAX, Timestamp::millis);
    (from, AuditId(i64::MIN))..=(to, AuditId(i64::MAX))
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn record_audit(&self, record: &AuditRecord, _expires: Timestamp) -> Result<bool, StoreError> {
        let mut state = self.write();
        let trail = &mut state.audit;
        if !trail.requests.insert((record.tenant_id, record.request_id.clone())) {
            return Ok(false);
        }
        trail.by_time.insert((key(record), record.tenant_id));
        trail
            .by_tenant
            .entry(record.tenant_id)
            .or_default()
            .insert(key(record), record.clone());
        Ok(true)
    }

    async fn audit_records(
        &self,
        scope: TenantScope,
        range: TimeRange,
        budget: ReadBudget,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let state = self.read();
        let trail = &state.audit;
        let records: Vec<AuditRecord> = match scope {
            TenantScope::Tenant(tenant) => trail
                .by_tenant
                .get(&tenant)
                .map(|records| {
                    records
                        .range(bounds(range))
                        .map(|(_, r)| r.clone())
                        .take(budget.0 + 1)
                        .collect()
                })
                .unwrap_or_default(),
            TenantScope::All => {
                let (from, to) = bounds(range).into_inner();
                trail
                    .by_time
                    .range((from, TenantId(i64::MIN))..=(to, TenantId(i64::MAX)))
                    .filter_map(|(key, tenant)| trail.by_tenant.get(tenant)?.get(key).cloned())
                    .take(budget.0 + 1)
                    .collect()
            }
        };
        if records.len() > budget.0 {
            return Err(StoreError::ReadBudget(budget.0));
        }
        Ok(records)
    }

    async fn audit_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let state = self.read();
        let trail = &state.audit;
        Ok(trail
            .by_time
            .iter()
            .take_while(|((at, _), _)| *at < cutoff.millis())
            .filter_map(|(key, tenant)| trail.by_tenant.get(tenant)?.get(key).cloned())
            .take(limit)
            .collect())
    }

    async fn delete_audit(&self, records: &[AuditRecord]) -> Result<u64, StoreError> {
        let mut state = self.write();
        let trail = &mut state.audit;
        let mut deleted = 0;
        for record in records {
            let Some(of_tenant) = trail.by_tenant.get_mut(&record.tenant_id) else {
                continue;
            };
            if of_tenant.remove(&key(record)).is_none() {
                continue;
            }
            if of_tenant.is_empty() {
                trail.by_tenant.remove(&record.tenant_id);
            }
            trail.by_time.remove(&(key(record), record.tenant_id));
            trail.requests.remove(&(record.tenant_id, record.request_id.clone()));
            deleted += 1;
        }
        Ok(deleted)
    }
}
