//! [`TokenStore`] on DynamoDB: the tokens table, keyed by hash.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;

use super::calls::sdk_error;
use super::codec::{s, token_from, token_item};
use super::schema::attr;
use super::DynamoStore;
use crate::domain::access::{TokenHash, TokenRecord};
use crate::domain::error::StoreError;
use crate::store::TokenStore;

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
}
