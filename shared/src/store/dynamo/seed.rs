//! Bulk loading for seeding (demo data, benchmarks), where no `$connect` races the load.

use super::calls::{build_error, sdk_error, CounterChange, BATCH_WRITE_ITEMS};
use super::codec::{connection_item, session_item};
use super::writes::by_tenant;
use super::{DynamoStore, Item};
use crate::domain::error::StoreError;
use crate::domain::Session;

impl DynamoStore {
    /// Loads sessions that are not in the table yet, in bulk: BatchWriteItem of 25, unprocessed
    /// items retried, then one counter update per tenant. For seeding (demo data, benchmarks),
    /// where no `$connect` races the load; live sessions go through [`SessionStore::open_session`](crate::store::SessionStore::open_session).
    pub async fn import_sessions(&self, sessions: &[Session]) -> Result<(), StoreError> {
        let items: Vec<Item> = sessions
            .iter()
            .flat_map(|session| [session_item(session, None), connection_item(session)])
            .collect();
        let batches = items.chunks(BATCH_WRITE_ITEMS).map(|chunk| {
            chunk
                .iter()
                .map(|item| {
                    let put = aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map_err(build_error)?;
                    Ok(aws_sdk_dynamodb::types::WriteRequest::builder()
                        .put_request(put)
                        .build())
                })
                .collect::<Result<Vec<_>, StoreError>>()
        });
        for batch in batches {
            let mut pending = batch?;
            while !pending.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.tables.sessions, pending.clone())
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchWriteItem", e))?;
                self.usage.wrote(pending.len());
                pending = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.tables.sessions))
                    .unwrap_or_default();
            }
        }
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
