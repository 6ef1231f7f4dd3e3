//! [`SubscriptionStore`] on DynamoDB, in the sessions table: a subscription item per connection
//! under the tenants it watches (`SUB#<tenantId>`, or `SUB#*` for every tenant), so the events of a
//! tenant reach its subscribers with a query (and one for every-tenant subscribers per batch), and the watched scope marked on the connection
//! item (`subscribed`), so an unsubscribe or a disconnect knows which item to delete. Both carry
//! the connection's TTL: a subscription left behind (a crash between the two writes) expires with
//! the connection, a day on, and a push that finds the connection gone drops it first.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use futures::{StreamExt, TryStreamExt};

use super::calls::{retry_conflicts, sdk_error};
use super::codec::{connection_key, n, opt_s, s, CONNECTION_TTL_SECS};
use super::schema::{attr, SESSIONS_TTL_ATTRIBUTE};
use super::{DynamoStore, Item, CONCURRENCY};
use crate::domain::access::TenantScope;
use crate::domain::error::StoreError;
use crate::domain::{TenantId, Timestamp};
use crate::store::SubscriptionStore;

/// Partition key prefix of subscription items.
pub(super) const SUBSCRIPTION_PK_PREFIX: &str = "SUB#";

/// How a scope is written: a tenant's id, or `*` for every tenant.
fn scope_key(scope: TenantScope) -> String {
    match scope {
        TenantScope::All => "*".to_owned(),
        TenantScope::Tenant(tenant) => tenant.to_string(),
    }
}

fn subscription_key(scope_key: &str, connection_id: &str) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), s(format!("{SUBSCRIPTION_PK_PREFIX}{scope_key}"))),
        (attr::SK.to_owned(), s(connection_id)),
    ])
}

/// What [`DynamoStore::mark_connection`] did.
enum Marked {
    /// Nothing written: the connection is unknown (setting), or has no mark (removing).
    NotApplied,
    /// Written; the scope the connection was marked with before.
    Replacing(Option<String>),
}

impl DynamoStore {
    /// Sets (`Some`) or removes (`None`) the scope marked on a known connection's item.
    async fn mark_connection(&self, connection_id: &str, scope: Option<&str>) -> Result<Marked, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(connection_key(connection_id)))
            .expression_attribute_names("#sub", attr::SUBSCRIBED)
            .return_values(ReturnValue::UpdatedOld);
        let update = match scope {
            Some(scope) => update
                .update_expression("SET #sub = :sub")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_values(":sub", s(scope)),
            None => update
                .update_expression("REMOVE #sub")
                .condition_expression("attribute_exists(#sub)"),
        };
        let result = retry_conflicts(|| update.clone().send()).await;
        self.usage.wrote(1);
        match result {
            Ok(output) => Ok(Marked::Replacing(match output.attributes {
                Some(old) => opt_s(&old, attr::SUBSCRIBED)?,
                None => None,
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Marked::NotApplied)
            }
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }

    async fn delete_subscription(&self, scope_key: &str, connection_id: &str) -> Result<(), StoreError> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(subscription_key(scope_key, connection_id)));
        retry_conflicts(|| delete.clone().send())
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        self.usage.wrote(1);
        Ok(())
    }

    /// The connection ids under one scope key, read consistently (a subscribe a moment ago counts).
    async fn subscribed_under(&self, scope_key: &str) -> Result<Vec<String>, StoreError> {
        let query = self
            .query_sessions()
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":pk", s(format!("{SUBSCRIPTION_PK_PREFIX}{scope_key}")))
            .consistent_read(true);
        self.query_all(query)
            .await?
            .iter()
            .map(|item| super::codec::read_s(item, attr::SK))
            .collect()
    }
}

#[async_trait]
impl SubscriptionStore for DynamoStore {
    /// Three writes: the mark on the connection (which returns the scope it replaces), the
    /// subscription item, and the deletion of the replaced one (when it differs).
    async fn subscribe(&self, connection_id: &str, scope: TenantScope, at: Timestamp) -> Result<(), StoreError> {
        let key = scope_key(scope);
        // An unknown connection (the service checked that its session is online) subscribes nothing.
        let Marked::Replacing(replaced) = self.mark_connection(connection_id, Some(&key)).await? else {
            return Ok(());
        };
        let mut item = subscription_key(&key, connection_id);
        item.insert(SESSIONS_TTL_ATTRIBUTE.into(), n(at.secs() + CONNECTION_TTL_SECS));
        let put = self
            .client
            .put_item()
            .table_name(&self.tables.sessions)
            .set_item(Some(item));
        retry_conflicts(|| put.clone().send())
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        self.usage.wrote(1);
        match replaced {
            Some(old) if old != key => self.delete_subscription(&old, connection_id).await,
            _ => Ok(()),
        }
    }

    async fn unsubscribe(&self, connection_id: &str) -> Result<bool, StoreError> {
        match self.mark_connection(connection_id, None).await? {
            Marked::Replacing(Some(old)) => {
                self.delete_subscription(&old, connection_id).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// One query per tenant (up to [`CONCURRENCY`] at once) and one of the every-tenant
    /// subscribers, shared by all the tenants: a batch of changes across many tenants reads the
    /// platform's subscribers once, not once per tenant.
    async fn subscribers_of(
        &self,
        tenants: &BTreeSet<TenantId>,
    ) -> Result<BTreeMap<TenantId, Vec<String>>, StoreError> {
        let own = futures::stream::iter(tenants.iter().copied())
            .map(|tenant| async move {
                let watching = self.subscribed_under(&tenant.to_string()).await?;
                Ok::<_, StoreError>((tenant, watching))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<_>>();
        let (own, all) = futures::try_join!(own, self.subscribed_under("*"))?;
        Ok(own
            .into_iter()
            .map(|(tenant, mut watching)| {
                watching.extend(all.iter().cloned());
                (tenant, watching)
            })
            .collect())
    }
}
