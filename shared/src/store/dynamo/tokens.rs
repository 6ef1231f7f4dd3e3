//! [`TokenStore`] on DynamoDB: the tokens table, keyed by hash, and the one query of a user's
//! tokens through the `byUser` index that both the operator's listing and the revocation of a
//! user's tokens (`DynamoStore::revoke_tokens_of`) make.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;

use super::calls::sdk_error;
use super::codec::{n, s, token_from, token_item};
use super::schema::{attr, index};
use super::DynamoStore;
use crate::domain::access::{TokenHash, TokenRecord};
use crate::domain::error::StoreError;
use crate::store::{TokenStore, UserRef};

impl DynamoStore {
    /// The tokens of `user` in its tenant as the `byUser` index holds them (`ALL` projection):
    /// eventually consistent, so a token written a moment ago may be missing, or be there as it
    /// was before that write. Good enough to find what to revoke (each revocation is a
    /// conditional write on the table); a reader that shows records reads them again from the
    /// table ([`TokenStore::user_tokens`]).
    pub(super) async fn indexed_user_tokens(&self, user: UserRef) -> Result<Vec<TokenRecord>, StoreError> {
        let items = self
            .query_all(
                self.query_tokens()
                    .index_name(index::TOKENS_BY_USER)
                    .key_condition_expression("#u = :u")
                    .expression_attribute_names("#u", attr::USER_ID)
                    .expression_attribute_values(":u", n(user.user_id.get())),
            )
            .await?;
        items
            .iter()
            .map(token_from)
            .filter(|token| token.as_ref().map_or(true, |t| t.tenant_id == user.tenant_id))
            .collect()
    }
}

#[async_trait]
impl TokenStore for DynamoStore {
    async fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.tokens)
            .set_item(Some(token_item(token)))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        self.usage.wrote(1);
        Ok(())
    }

    async fn token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError> {
        let key = HashMap::from([(attr::TOKEN_HASH.to_owned(), s(hash.as_str()))]);
        self.get(&self.tables.tokens, key)
            .await?
            .as_ref()
            .map(token_from)
            .transpose()
    }

    async fn tokens(&self, hashes: &[TokenHash]) -> Result<Vec<TokenRecord>, StoreError> {
        let distinct: BTreeSet<&TokenHash> = hashes.iter().collect();
        let keys = distinct
            .into_iter()
            .map(|hash| HashMap::from([(attr::TOKEN_HASH.to_owned(), s(hash.as_str()))]))
            .collect();
        self.batch_get(&self.tables.tokens, keys)
            .await?
            .iter()
            .map(token_from)
            .collect()
    }

    async fn user_tokens(&self, user: UserRef) -> Result<Vec<TokenRecord>, StoreError> {
        let hashes: Vec<TokenHash> = self
            .indexed_user_tokens(user)
            .await?
            .into_iter()
            .map(|token| token.hash)
            .collect();
        // The records from the table, consistently (the index may lag a revocation); one put
        // again meanwhile for another user is no longer this user's.
        let mut records: Vec<TokenRecord> = self
            .tokens(&hashes)
            .await?
            .into_iter()
            .filter(|t| t.user_id == user.user_id && t.tenant_id == user.tenant_id)
            .collect();
        records.sort_by(|a, b| a.hash.cmp(&b.hash));
        Ok(records)
    }
}
