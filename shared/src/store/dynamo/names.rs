//! The name index: which users of a tenant had a name containing a given 3-character gram, so a
//! search of a name reads the users it can match instead of every session of the tenant.
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | gram | `G#<tenantId>#<gram>` | `<userId>#<name hash>` | `nameUser` (N), `fullName` |
//! | name seen | `N#<tenantId>#<userId>` | `<name hash>` | |
//!
//! A (tenant, user, name) is indexed once, when a session is first opened under it: the connect
//! reads its "name seen" item (one eventually consistent GetItem, beside the connect's
//! transaction) and, when there is none, writes the name's grams and then the item, so a crash
//! between the two leaves the name to be indexed again at the next connect, never half-indexed
//! for good. Names are never removed: a session keeps the name it was opened with for its whole
//! retention, and a user renamed is found under both names, each session by its own. The items
//! are small (about 60 bytes) and their number grows with distinct names, not with sessions.

use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use super::calls::sdk_error;
use super::codec::{n, opt_s, read_n, s};
use super::schema::attr;
use super::{DynamoStore, Item};
use crate::domain::error::StoreError;
use crate::domain::plan::{name_grams, name_may_match};
use crate::domain::{TenantId, UserId};

/// A short, stable key for a name (DynamoDB keys are bounded; names are not ours to bound).
fn name_hash(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    hex::encode(&digest[..8])
}

fn gram_pk(tenant: TenantId, gram: &str) -> String {
    format!("G#{tenant}#{gram}")
}

/// The key of the item that says a user's name is indexed.
fn seen_key(tenant: TenantId, user: UserId, name: &str) -> Item {
    HashMap::from([
        (attr::PK.to_owned(), s(format!("N#{tenant}#{user}"))),
        (attr::SK.to_owned(), s(name_hash(name))),
    ])
}

/// Every item that indexes `name` for `user` of `tenant`: its grams, then the "name seen" item.
pub(super) fn name_items(tenant: TenantId, user: UserId, name: &str) -> Vec<Item> {
    let sk = format!("{user}#{}", name_hash(name));
    let mut items: Vec<Item> = name_grams(name)
        .into_iter()
        .map(|gram| {
            HashMap::from([
                (attr::PK.to_owned(), s(gram_pk(tenant, &gram))),
                (attr::SK.to_owned(), s(sk.clone())),
                (attr::NAME_USER.to_owned(), n(user.get())),
                (attr::FULL_NAME.to_owned(), s(name)),
            ])
        })
        .collect();
    items.push(seen_key(tenant, user, name));
    items
}

impl DynamoStore {
    /// Indexes `name` for `user` of `tenant` unless it is already: one GetItem when it is.
    pub(super) async fn index_name(&self, tenant: TenantId, user: UserId, name: &str) -> Result<(), StoreError> {
        let seen = self
            .client
            .get_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(seen_key(tenant, user, name)))
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        self.usage.read(usize::from(seen.item.is_some()));
        if seen.item.is_some() {
            return Ok(());
        }
        // The grams first, the "seen" item last (it is the last of `name_items`, in its own
        // batch when it is not alone with the grams: a batch may land partly).
        let mut items = name_items(tenant, user, name);
        let seen_item = items.pop().into_iter().collect();
        self.batch_put(&self.tables.sessions, items).await?;
        self.batch_put(&self.tables.sessions, seen_item).await
    }

    /// The users of `tenant` who had a name containing `gram` that may match `needle` (both
    /// folded): one query of the gram's partition.
    pub(super) async fn users_named(
        &self,
        tenant: TenantId,
        gram: &str,
        needle: &str,
    ) -> Result<BTreeSet<UserId>, StoreError> {
        let items = self
            .query_all(
                self.query_sessions()
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", attr::PK)
                    .expression_attribute_values(":pk", s(gram_pk(tenant, gram))),
            )
            .await?;
        let mut users = BTreeSet::new();
        for item in &items {
            let name = opt_s(item, attr::FULL_NAME)?.unwrap_or_default();
            if name_may_match(&name, needle) {
                users.insert(UserId(read_n(item, attr::NAME_USER)?));
            }
        }
        Ok(users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_its_distinct_grams_and_one_seen_item() {
        let items = name_items(TenantId(7), UserId(1001), "Ada Adams");
        // "ada", "da ", "a a", " ad", "dam", "ams" ("ada" twice: once).
        assert_eq!(items.len(), 6 + 1);
        let pks: BTreeSet<String> = items
            .iter()
            .map(|item| item[attr::PK].as_s().unwrap().clone())
            .collect();
        assert!(pks.contains("G#7#ada") && pks.contains("G#7# ad") && pks.contains("N#7#1001"));
        assert_eq!(
            name_items(TenantId(7), UserId(1001), "Al").len(),
            1,
            "no gram under 3 characters"
        );
    }
}
