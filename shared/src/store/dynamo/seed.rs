//! Bulk loading for seeding (demo data, benchmarks), where no `$connect` races the load.

use std::collections::BTreeSet;

use super::calls::{sdk_error, CounterChange};
use super::codec::{connection_item, session_item};
use super::names::name_items;
use super::writes::by_tenant;
use super::{DynamoStore, Item};
use crate::domain::error::StoreError;
use crate::domain::Session;

impl DynamoStore {
    /// Loads sessions that are not in the table yet, in bulk: BatchWriteItem of 25 (sessions,
    /// connections and the name index of every distinct name), then one counter update per
    /// tenant. For seeding (demo data, benchmarks), where no `$connect` races the load; live
    /// sessions go through [`SessionStore::open_session`](crate::store::SessionStore::open_session).
    pub async fn import_sessions(&self, sessions: &[Session]) -> Result<(), StoreError> {
        self.batch_put(&self.tables.sessions, seed_items(sessions)).await?;
        for (tenant, of_tenant) in by_tenant(sessions) {
            let online = of_tenant.iter().filter(|s| s.online()).count() as i64;
            let change = CounterChange {
                tenant,
                sessions: of_tenant.len() as i64,
                online,
            };
            let update = self.count_update(change)?;
            self.client
                .update_item()
                .table_name(update.table_name)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .send()
                .await
                .map_err(|e| sdk_error("UpdateItem", e))?;
            self.usage.wrote(1);
        }
        Ok(())
    }
}

/// The items [`DynamoStore::import_sessions`] writes for `sessions` (the counters aside): each
/// session and its connection, and the name index of each distinct (tenant, user, name).
pub fn seed_items(sessions: &[Session]) -> Vec<Item> {
    let names: BTreeSet<_> = sessions
        .iter()
        .map(|s| (s.tenant_id, s.user_id, s.full_name.as_str()))
        .collect();
    sessions
        .iter()
        .flat_map(|session| [session_item(session, None), connection_item(session)])
        .chain(
            names
                .into_iter()
                .flat_map(|(tenant, user, name)| name_items(tenant, user, name)),
        )
        .collect()
}
