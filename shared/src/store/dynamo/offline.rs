//! [`OfflineStore`] on DynamoDB: finding users, revoking their tokens and reading their online
//! sessions, per user or (for many users of one tenant) in one read of the tenant.

use std::collections::BTreeSet;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use super::codec::{n, token_from};
use super::schema::{attr, index};
use super::{DynamoStore, USER_CONCURRENCY};
use crate::domain::access::TenantScope;
use crate::domain::error::StoreError;
use crate::domain::{KeyRange, Session, TenantId, Timestamp, UserId};
use crate::store::{OfflineStore, TenantRevocation, UserRef};

#[async_trait]
impl OfflineStore for DynamoStore {
    async fn find_users(&self, scope: TenantScope, user_ids: &[UserId]) -> Result<Vec<UserRef>, StoreError> {
        let found: Vec<BTreeSet<TenantId>> = futures::stream::iter(user_ids.iter().copied())
            .map(|user_id| self.user_tenants(user_id, scope))
            .buffered(USER_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(user_ids
            .iter()
            .zip(found)
            .flat_map(|(user_id, tenants)| {
                tenants.into_iter().map(|tenant_id| UserRef {
                    user_id: *user_id,
                    tenant_id,
                })
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect())
    }

    async fn revoke_user_tokens(&self, users: &[UserRef], at: Timestamp) -> Result<u64, StoreError> {
        let counts: Vec<u64> = futures::stream::iter(users.iter().copied())
            .map(|user| self.revoke_tokens_of(user, at))
            .buffer_unordered(USER_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(counts.into_iter().sum())
    }

    async fn online_sessions_of_users(&self, users: &[UserRef]) -> Result<Vec<Session>, StoreError> {
        let online: Vec<Vec<Session>> = futures::stream::iter(users.iter().copied())
            .map(|user| self.online_sessions_of(user))
            .buffer_unordered(USER_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(online.into_iter().flatten().collect())
    }

    /// One read of the tenant's tokens (the `byTenant` index), whatever the number of users.
    async fn revoke_tenant_tokens(
        &self,
        tenant: TenantId,
        only_users: Option<&BTreeSet<UserId>>,
        at: Timestamp,
    ) -> Result<TenantRevocation, StoreError> {
        let tokens = self
            .query_all(
                self.query_tokens()
                    .index_name(index::TOKENS_BY_TENANT)
                    .key_condition_expression("#t = :t")
                    .expression_attribute_names("#t", attr::TENANT_ID)
                    .expression_attribute_values(":t", n(tenant.get())),
            )
            .await?
            .iter()
            .map(token_from)
            .filter(|token| token.as_ref().map_or(true, |t| targeted(only_users, t.user_id)))
            .collect::<Result<Vec<_>, _>>()?;
        let users: BTreeSet<UserId> = tokens.iter().map(|t| t.user_id).collect();
        Ok(TenantRevocation {
            users: users.into_iter().collect(),
            revoked: self.revoke_tokens(tokens, at).await?,
        })
    }

    /// One read of the tenant's online index, whatever the number of users.
    async fn online_sessions_of_tenant(
        &self,
        tenant: TenantId,
        only_users: Option<&BTreeSet<UserId>>,
    ) -> Result<Vec<Session>, StoreError> {
        let mut online = self.sessions_in_range(tenant, &KeyRange::everything(true)).await?;
        online.retain(|session| targeted(only_users, session.user_id));
        Ok(online)
    }
}

/// Whether `user` is among `only_users` (everyone, when there is no such list).
fn targeted(only_users: Option<&BTreeSet<UserId>>, user: UserId) -> bool {
    only_users.is_none_or(|only| only.contains(&user))
}
