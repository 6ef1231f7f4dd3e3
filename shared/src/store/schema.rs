//! The DynamoDB tables, defined once: the test bootstrap and the local API create them from here,
//! and `template.yaml` mirrors the same keys and indexes (a test compares the two).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;

/// The names of the two tables, from `SESSIONS_TABLE` and `TOKENS_TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub sessions: String,
    pub tokens: String,
}

impl TableNames {
    pub const DEFAULT_SESSIONS: &'static str = "message-center-online-sessions";
    pub const DEFAULT_TOKENS: &'static str = "message-center-online-tokens";

    pub fn from_env() -> Self {
        TableNames {
            sessions: std::env::var("SESSIONS_TABLE").unwrap_or_else(|_| Self::DEFAULT_SESSIONS.into()),
            tokens: std::env::var("TOKENS_TABLE").unwrap_or_else(|_| Self::DEFAULT_TOKENS.into()),
        }
    }

    /// Both tables under a common prefix, for tests that each want tables of their own.
    pub fn with_prefix(prefix: &str) -> Self {
        TableNames {
            sessions: format!("{prefix}-sessions"),
            tokens: format!("{prefix}-tokens"),
        }
    }
}

/// Index names, used by the store's queries.
pub mod index {
    pub const SESSIONS_BY_USER: &str = "byUser";
    pub const ONLINE_BY_TENANT: &str = "onlineByTenant";
    pub const ONLINE_BY_USER: &str = "onlineByUser";
    pub const STALE_BY_SHARD: &str = "staleByShard";
    pub const ENDED_BY_SHARD: &str = "endedByShard";
    pub const TOKENS_BY_USER: &str = "byUser";
    pub const TOKENS_BY_TENANT: &str = "byTenant";
    pub const EXPIRY_BY_SHARD: &str = "expiryByShard";
}

/// Attribute the tokens table's TTL deletes on (epoch seconds): a backstop to the cleanup.
pub const TOKENS_TTL_ATTRIBUTE: &str = "ttl";
/// Attribute the sessions table's TTL deletes on: set on connection items only (sessions are
/// deleted by the cleanup, which keeps the counters right).
pub const SESSIONS_TTL_ATTRIBUTE: &str = "ttl";

/// One table's definition: key, key attribute types and global secondary indexes (all `ALL`
/// projections, so a query through an index needs no second read).
pub struct TableSpec {
    pub partition_key: &'static str,
    pub sort_key: Option<&'static str>,
    /// `(name, is_number)` for every key attribute of the table and its indexes.
    pub attributes: &'static [(&'static str, bool)],
    /// `(index name, partition key, sort key)`.
    pub indexes: &'static [(&'static str, &'static str, &'static str)],
}

pub const SESSIONS_TABLE: TableSpec = TableSpec {
    partition_key: "pk",
    sort_key: Some("sk"),
    attributes: &[
        ("pk", false),
        ("sk", false),
        ("id", false),
        ("userId", true),
        ("onlineTenant", true),
        ("onlineUser", true),
        ("onlineShard", false),
        ("lastSeenDate", true),
        ("endedShard", false),
        ("offlineDate", true),
    ],
    indexes: &[
        (index::SESSIONS_BY_USER, "userId", "id"),
        (index::ONLINE_BY_TENANT, "onlineTenant", "id"),
        (index::ONLINE_BY_USER, "onlineUser", "id"),
        (index::STALE_BY_SHARD, "onlineShard", "lastSeenDate"),
        (index::ENDED_BY_SHARD, "endedShard", "offlineDate"),
    ],
};

pub const TOKENS_TABLE: TableSpec = TableSpec {
    partition_key: "tokenHash",
    sort_key: None,
    attributes: &[
        ("tokenHash", false),
        ("userId", true),
        ("tenantId", true),
        ("expiryShard", false),
        ("expiresAt", true),
    ],
    indexes: &[
        (index::TOKENS_BY_USER, "userId", "tokenHash"),
        (index::TOKENS_BY_TENANT, "tenantId", "tokenHash"),
        (index::EXPIRY_BY_SHARD, "expiryShard", "expiresAt"),
    ],
};

fn failure(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Failure(format!("{what}: {error}"))
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| failure("key schema", e))
}

/// Creates one table from its spec, on demand billing.
pub async fn create_table(client: &Client, name: &str, spec: &TableSpec) -> Result<(), StoreError> {
    let mut key_schema = vec![key(spec.partition_key, KeyType::Hash)?];
    if let Some(sort) = spec.sort_key {
        key_schema.push(key(sort, KeyType::Range)?);
    }
    let attributes = spec
        .attributes
        .iter()
        .map(|(attribute, is_number)| {
            AttributeDefinition::builder()
                .attribute_name(*attribute)
                .attribute_type(if *is_number {
                    ScalarAttributeType::N
                } else {
                    ScalarAttributeType::S
                })
                .build()
                .map_err(|e| failure("attribute definition", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let indexes = spec
        .indexes
        .iter()
        .map(|(index, partition, sort)| {
            GlobalSecondaryIndex::builder()
                .index_name(*index)
                .key_schema(key(partition, KeyType::Hash)?)
                .key_schema(key(sort, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(|e| failure("index definition", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    client
        .create_table()
        .table_name(name)
        .set_key_schema(Some(key_schema))
        .set_attribute_definitions(Some(attributes))
        .set_global_secondary_indexes(Some(indexes))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| failure("create table", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// Creates both tables and turns on their TTL, as `template.yaml` does in AWS.
pub async fn create_tables(client: &Client, names: &TableNames) -> Result<(), StoreError> {
    create_table(client, &names.sessions, &SESSIONS_TABLE).await?;
    create_table(client, &names.tokens, &TOKENS_TABLE).await?;
    for (table, attribute) in [
        (&names.sessions, SESSIONS_TTL_ATTRIBUTE),
        (&names.tokens, TOKENS_TTL_ATTRIBUTE),
    ] {
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(attribute)
            .enabled(true)
            .build()
            .map_err(|e| failure("ttl", e))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| failure("update ttl", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    }
    Ok(())
}

/// Creates whichever of the two tables does not exist yet (for a local server that may already
/// hold them from an earlier run).
pub async fn ensure_tables(client: &Client, names: &TableNames) -> Result<(), StoreError> {
    let existing = client
        .list_tables()
        .send()
        .await
        .map_err(|e| failure("list tables", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?
        .table_names
        .unwrap_or_default();
    match (existing.contains(&names.sessions), existing.contains(&names.tokens)) {
        (true, true) => Ok(()),
        (false, false) => create_tables(client, names).await,
        _ => Err(StoreError::Failure(format!(
            "only one of the tables {} and {} exists; delete it or create the other",
            names.sessions, names.tokens
        ))),
    }
}
