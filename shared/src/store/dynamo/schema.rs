//! The DynamoDB tables, defined once: the test bootstrap and the local API create them from here,
//! and `template.yaml` mirrors the same keys and indexes (a test compares the two).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use crate::domain::error::StoreError;

/// The names of the tables (in Lambda, from `SESSIONS_TABLE`, `TOKENS_TABLE` and `AUDIT_TABLE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub sessions: String,
    pub tokens: String,
    /// The audit trail of forced offlines.
    pub audit: String,
}

impl TableNames {
    pub const DEFAULT_SESSIONS: &'static str = "message-center-online-sessions";
    pub const DEFAULT_TOKENS: &'static str = "message-center-online-tokens";
    pub const DEFAULT_AUDIT: &'static str = "message-center-online-audit";

    /// Both tables under a common prefix, for tests that each want tables of their own.
    pub fn with_prefix(prefix: &str) -> Self {
        TableNames {
            sessions: format!("{prefix}-sessions"),
            tokens: format!("{prefix}-tokens"),
            audit: format!("{prefix}-audit"),
        }
    }
}

/// Attribute names: the one place each is spelled. Queries name them through
/// `ExpressionAttributeNames` (`#x`), never by splicing text into an expression.
pub mod attr {
    /// Partition key of every sessions-table item: `T#<tenant>` (sessions), `C#<connection>`, `COUNT#<shard>`, `R#<tenant>#<user>`; of nothing in the tokens table.
    pub const PK: &str = "pk";
    /// Sort key: `S#<session id>`, `C`, `T#<tenant>` (a counter shard), the epoch minute (a connect-rate item).
    pub const SK: &str = "sk";
    /// A session's id (ULID text); sort key of the session indexes.
    pub const ID: &str = "id";
    /// The tenant (number), on sessions, connections, counter shards and tokens.
    pub const TENANT_ID: &str = "tenantId";
    /// The user (number), on sessions and tokens; partition key of `byUser`.
    pub const USER_ID: &str = "userId";
    pub const FULL_NAME: &str = "fullName";
    pub const AVATAR: &str = "avatar";
    pub const USER_AGENT: &str = "userAgent";
    pub const DEVICE_ID: &str = "deviceId";
    pub const REMOTE_ADDRESS: &str = "remoteAddress";
    pub const CONNECTION_ID: &str = "connectionId";
    pub const ONLINE_DATE: &str = "onlineDate";
    /// Last heartbeat (epoch ms); sort key of `staleByShard`.
    pub const LAST_SEEN_DATE: &str = "lastSeenDate";
    /// When the session ended (epoch ms); sort key of `endedByShard`.
    pub const OFFLINE_DATE: &str = "offlineDate";
    pub const OFFLINE_REASON: &str = "offlineReason";
    /// Set when a session ends: partition key of `endedByShard`.
    pub const ENDED_SHARD: &str = "endedShard";
    /// The mark of the write that ended a session (a `Write` of `calls.rs`).
    pub const ENDED_BY: &str = "endedBy";
    /// Set while a session is online: partition key of `onlineByTenant`.
    pub const ONLINE_TENANT: &str = "onlineTenant";
    /// Set while a session is online: partition key of `onlineByUser`.
    pub const ONLINE_USER: &str = "onlineUser";
    /// Set while a session is online: partition key of `staleByShard`.
    pub const ONLINE_SHARD: &str = "onlineShard";
    /// A token's SHA-256 (hex): the tokens table's key, and on a session, the token it was opened with.
    pub const TOKEN_HASH: &str = "tokenHash";
    /// On a connection item: the session it carries (absent on a tombstone).
    pub const SESSION_ID: &str = "sessionId";
    /// On a counter shard: sessions stored.
    pub const SESSIONS: &str = "sessions";
    /// On a counter shard: sessions online.
    pub const ONLINE: &str = "online";
    /// On a connect-rate item: sessions the user opened that minute.
    pub const CONNECTS: &str = "n";
    /// When a token was revoked (epoch ms).
    pub const REVOKED_AT: &str = "revokedAt";
    /// The mark of the write that revoked a token.
    pub const REVOKED_BY: &str = "revokedBy";
    /// When a token expires (epoch ms); sort key of `expiryByShard`.
    pub const EXPIRES_AT: &str = "expiresAt";
    /// Set on a token that expires: partition key of `expiryByShard`.
    pub const EXPIRY_SHARD: &str = "expiryShard";
    pub const PERMISSIONS: &str = "permissions";
    /// On a name-index gram item: the user whose name holds the gram (not `userId`, so that the
    /// item stays out of the `byUser` index).
    pub const NAME_USER: &str = "nameUser";
    pub const PLATFORM: &str = "platform";
    /// On an audit record: partition key of `auditByTime` (always [`super::AUDIT_SHARD`]).
    pub const AUDIT_SHARD: &str = "auditShard";
    /// On an audit record (with `id` as a number, `tenantId`, `remoteAddress`, `userAgent` and
    /// `sessions` as named above) and, for `recordSk`, on its request marker.
    pub const OPERATOR_USER_ID: &str = "operatorUserId";
    pub const OPERATOR_FULL_NAME: &str = "operatorFullName";
    pub const TARGET_TYPE: &str = "targetType";
    pub const TARGET_IDS: &str = "targetIds";
    pub const BROADCAST: &str = "broadcast";
    pub const USERS: &str = "users";
    pub const TOKENS: &str = "tokens";
    pub const CONNECTIONS: &str = "connections";
    pub const SKIPPED_IDS: &str = "skippedIds";
    pub const REQUEST_ID: &str = "requestId";
    /// When the audit record was written (epoch ms).
    pub const DATETIME: &str = "datetime";
    /// On a request marker: the `sk` of the record it stands for.
    pub const RECORD_SK: &str = "recordSk";
    /// On a connection item: the tenants its presence subscription watches (a tenant id, or `*`).
    pub const SUBSCRIBED: &str = "subscribed";
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
    pub const AUDIT_BY_TIME: &str = "auditByTime";
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
    /// A stream of every change with its old and new image (the sessions table's: presence
    /// events are made from it).
    pub stream: bool,
}

pub const SESSIONS_TABLE: TableSpec = TableSpec {
    partition_key: attr::PK,
    sort_key: Some(attr::SK),
    attributes: &[
        (attr::PK, false),
        (attr::SK, false),
        (attr::ID, false),
        (attr::USER_ID, true),
        (attr::ONLINE_TENANT, true),
        (attr::ONLINE_USER, true),
        (attr::ONLINE_SHARD, false),
        (attr::LAST_SEEN_DATE, true),
        (attr::ENDED_SHARD, false),
        (attr::OFFLINE_DATE, true),
    ],
    indexes: &[
        (index::SESSIONS_BY_USER, attr::USER_ID, attr::ID),
        (index::ONLINE_BY_TENANT, attr::ONLINE_TENANT, attr::ID),
        (index::ONLINE_BY_USER, attr::ONLINE_USER, attr::ID),
        (index::STALE_BY_SHARD, attr::ONLINE_SHARD, attr::LAST_SEEN_DATE),
        (index::ENDED_BY_SHARD, attr::ENDED_SHARD, attr::OFFLINE_DATE),
    ],
    stream: true,
};

/// Attribute the audit table's TTL deletes on (epoch seconds): a day past the retention, a
/// backstop to the cleanup, which deletes records and their request markers first.
pub const AUDIT_TTL_ATTRIBUTE: &str = "ttl";
/// The one value of `auditShard`: audit records come at the rate of administrators' actions, far
/// below what one index partition takes (see the store's module docs).
pub const AUDIT_SHARD: &str = "A";

/// The audit table: records under `A#<tenant>`, sorted by time; request markers under
/// `R#<tenant>#<request id>`; `auditByTime` over every record.
pub const AUDIT_TABLE: TableSpec = TableSpec {
    partition_key: attr::PK,
    sort_key: Some(attr::SK),
    attributes: &[(attr::PK, false), (attr::SK, false), (attr::AUDIT_SHARD, false)],
    indexes: &[(index::AUDIT_BY_TIME, attr::AUDIT_SHARD, attr::SK)],
    stream: false,
};

pub const TOKENS_TABLE: TableSpec = TableSpec {
    partition_key: attr::TOKEN_HASH,
    sort_key: None,
    attributes: &[
        (attr::TOKEN_HASH, false),
        (attr::USER_ID, true),
        (attr::TENANT_ID, true),
        (attr::EXPIRY_SHARD, false),
        (attr::EXPIRES_AT, true),
    ],
    indexes: &[
        (index::TOKENS_BY_USER, attr::USER_ID, attr::TOKEN_HASH),
        (index::TOKENS_BY_TENANT, attr::TENANT_ID, attr::TOKEN_HASH),
        (index::EXPIRY_BY_SHARD, attr::EXPIRY_SHARD, attr::EXPIRES_AT),
    ],
    stream: false,
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
    let stream = spec
        .stream
        .then(|| {
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(|e| failure("stream specification", e))
        })
        .transpose()?;
    client
        .create_table()
        .table_name(name)
        .set_stream_specification(stream)
        .set_key_schema(Some(key_schema))
        .set_attribute_definitions(Some(attributes))
        .set_global_secondary_indexes(Some(indexes))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| failure("create table", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// Creates the tables and turns on their TTL, as `template.yaml` does in AWS.
pub async fn create_tables(client: &Client, names: &TableNames) -> Result<(), StoreError> {
    create_table(client, &names.sessions, &SESSIONS_TABLE).await?;
    create_table(client, &names.tokens, &TOKENS_TABLE).await?;
    for (table, attribute) in [
        (&names.sessions, SESSIONS_TTL_ATTRIBUTE),
        (&names.tokens, TOKENS_TTL_ATTRIBUTE),
    ] {
        enable_ttl(client, table, attribute).await?;
    }
    create_audit_table(client, names).await
}

/// Creates the audit table and turns on its TTL.
async fn create_audit_table(client: &Client, names: &TableNames) -> Result<(), StoreError> {
    create_table(client, &names.audit, &AUDIT_TABLE).await?;
    enable_ttl(client, &names.audit, AUDIT_TTL_ATTRIBUTE).await
}

async fn enable_ttl(client: &Client, table: &str, attribute: &str) -> Result<(), StoreError> {
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
        // The audit table came later than the other two: a server holding those from an earlier
        // run gets it added.
        (true, true) if existing.contains(&names.audit) => Ok(()),
        (true, true) => create_audit_table(client, names).await,
        (false, false) => create_tables(client, names).await,
        _ => Err(StoreError::Failure(format!(
            "only one of the tables {} and {} exists; delete it or create the other",
            names.sessions, names.tokens
        ))),
    }
}
