//! The DynamoDB store. Key design and access patterns are in the [module docs](super); this file
//! turns them into calls. Caller input reaches DynamoDB only as expression attribute values;
//! attribute names are this file's constants.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, Select, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use futures::{StreamExt, TryStreamExt};

use super::schema::{index, TableNames, SESSIONS_TTL_ATTRIBUTE};
use super::{
    BoundSession, ConnectCheck, Opened, SessionCounts, Store, SweepPage, TenantOffline, UsageSnapshot, UserRef,
};
use crate::auth::{TenantScope, TokenHash, TokenRecord};
use crate::budget::Budget;
use crate::domain::{
    key_range, select_page, FilterKey, FilterOp, FilterValue, KeyRange, OfflineReason, Session, SessionId, SessionPage,
    SessionQuery, TenantId, Timestamp, UserId,
};
use crate::error::StoreError;

type Item = HashMap<String, AttributeValue>;

/// Requests one operation keeps in flight at once (per-user queries of a forced offline).
const CONCURRENCY: usize = 16;
/// Items one listing query asks for at most.
const QUERY_PAGE_ITEMS: usize = 1000;
/// Items one BatchWriteItem takes at most.
const BATCH_WRITE_ITEMS: usize = 25;
/// Items in one TransactWriteItems call (DynamoDB allows 100 actions; one is the counter).
const TRANSACTION_ITEMS: usize = 99;
/// Transactions of one batch in flight at once (their counter changes go to shards drawn at
/// random, so they seldom meet on one).
const TRANSACTION_CONCURRENCY: usize = 4;
/// Shards of the sparse cleanup indexes, so no index partition takes every write.
const SHARDS: u32 = 4;
/// Shards of each tenant's counters: every session start and end changes one, drawn at random,
/// so a burst of connects into one tenant does not queue on one item (each transaction holding it
/// cancels the others with `TransactionConflict`) nor on one partition key's write rate.
const COUNTER_SHARDS: u32 = 32;
/// Keys one BatchGetItem takes at most.
const BATCH_GET_KEYS: usize = 100;
/// Attempts at a transaction (or a single write) that meets a transaction conflict or throttling
/// before the store answers [`StoreError::Unavailable`]: with the backoff below, about two seconds.
const CONFLICT_ATTEMPTS: u32 = 10;
/// Cancellation reasons and error codes after which a write is tried again.
const CONFLICT_CODES: [&str; 2] = ["TransactionConflict", "TransactionConflictException"];
/// Error codes that mean "throttled": retried by the SDK, then answered as 503.
const THROTTLE_CODES: [&str; 4] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ThrottlingError",
];

/// One write of a transaction, and how a retry recognises it as already landed.
///
/// When DynamoDB applied a transaction but its answer was lost (a 5xx, a dropped connection), the
/// SDK sends the request again, and the conditions of the repeat fail on the items the first
/// attempt wrote. DynamoDB itself answers such a repeat from the request's idempotency token (the
/// SDK sets one) for ten minutes; past that, or on a server without it, the item as the failed
/// condition found it (`ALL_OLD`) shows the write landed, so it still counts once, as this call's.
#[derive(Clone)]
struct Write {
    action: TransactWriteItem,
    /// Attribute values the item holds once this write has landed, and that no other write leaves:
    /// the new session's id, or the [`write_mark`] an end or a revocation stores beside its time.
    /// Empty for a write that leaves nothing to recognise (a delete, a counter change).
    landed: Vec<(&'static str, AttributeValue)>,
    /// For a counter change, the change itself: a retry draws another shard for it.
    counter: Option<CounterChange>,
}

/// A change to one tenant's session counts.
#[derive(Debug, Clone, Copy)]
struct CounterChange {
    tenant: TenantId,
    sessions: i64,
    online: i64,
}

/// What a transaction came to.
enum Transacted {
    Written,
    /// A condition failed; nothing was written. The reasons line up with the writes.
    Refused(Vec<CancellationReason>),
}

impl Write {
    fn plain(action: TransactWriteItem) -> Self {
        Write {
            action,
            landed: Vec::new(),
            counter: None,
        }
    }

    /// Whether `reason` (this write's in a cancelled transaction) is a failed condition on an item
    /// that already holds this write's marks.
    fn landed_before(&self, reason: &CancellationReason) -> bool {
        !self.landed.is_empty()
            && reason.code() == Some("ConditionalCheckFailed")
            && reason
                .item()
                .is_some_and(|item| self.landed.iter().all(|(name, value)| item.get(*name) == Some(value)))
    }
}

/// A value unique to one write, stored with it (`endedBy`, `revokedBy`) so that its retry can tell
/// it from another call's write of the same time: two calls may end a session, or revoke a token,
/// in the same millisecond, and only one of them did.
fn write_mark() -> String {
    ulid::Ulid::new().to_string()
}

/// Sessions and tokens in DynamoDB.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
    usage: Arc<Usage>,
}

/// What a store has asked of DynamoDB since it was made: the figures behind cost estimates and
/// the benchmarks.
#[derive(Debug, Default)]
struct Usage {
    calls: AtomicU64,
    items_read: AtomicU64,
    items_written: AtomicU64,
}

impl Usage {
    fn read(&self, items: usize) {
        self.calls.fetch_add(1, Relaxed);
        self.items_read.fetch_add(items as u64, Relaxed);
    }

    fn wrote(&self, items: usize) {
        self.calls.fetch_add(1, Relaxed);
        self.items_written.fetch_add(items as u64, Relaxed);
    }
}

impl DynamoStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        DynamoStore {
            client,
            tables,
            usage: Arc::default(),
        }
    }

    /// A store from an AWS configuration (region, credentials, retries: standard mode, which
    /// retries throttling with backoff), pointed at a local DynamoDB-protocol server when the
    /// environment names one ([`crate::aws::dynamodb_endpoint_from_env`]); tables from
    /// `SESSIONS_TABLE` and `TOKENS_TABLE`.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        let mut builder = aws_sdk_dynamodb::config::Builder::from(config);
        if let Some(endpoint) = crate::aws::dynamodb_endpoint_from_env() {
            builder = builder.endpoint_url(endpoint);
        }
        DynamoStore::new(Client::from_conf(builder.build()), TableNames::from_env())
    }

    /// [`DynamoStore::from_config`] with the configuration from the environment, for the program
    /// `app_name` ([`crate::aws::sdk_config_from_env`]).
    pub fn from_env(app_name: &'static str) -> Self {
        Self::from_config(&crate::aws::sdk_config_from_env(app_name))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Loads sessions that are not in the table yet, in bulk: BatchWriteItem of 25, unprocessed
    /// items retried, then one counter update per tenant. For seeding (demo data, benchmarks),
    /// where no `$connect` races the load; live sessions go through [`Store::open_session`].
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

    /// One page of a query.
    async fn query_page(&self, query: QueryFluentBuilder) -> Result<QueryOutput, StoreError> {
        let page = query.send().await.map_err(|e| sdk_error("Query", e))?;
        self.usage.read(page.scanned_count.max(0) as usize);
        Ok(page)
    }

    /// Every item a query yields, across pages.
    async fn query_all(&self, query: QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self.query_page(query.clone().set_exclusive_start_key(start)).await?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    fn query_sessions(&self) -> QueryFluentBuilder {
        self.client.query().table_name(&self.tables.sessions)
    }

    fn query_tokens(&self) -> QueryFluentBuilder {
        self.client.query().table_name(&self.tables.tokens)
    }

    /// The tenants that have (or had) sessions, with their counts: every counter shard's items,
    /// summed by tenant.
    async fn tenants(&self) -> Result<Vec<(TenantId, SessionCounts)>, StoreError> {
        let shards: Vec<Vec<Item>> = futures::stream::iter(0..COUNTER_SHARDS)
            .map(|shard| {
                self.query_all(
                    self.query_sessions()
                        .key_condition_expression("#pk = :pk")
                        .expression_attribute_names("#pk", "pk")
                        .expression_attribute_values(":pk", s(counters_pk(shard)))
                        .consistent_read(true),
                )
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut tenants: BTreeMap<TenantId, Vec<&Item>> = BTreeMap::new();
        for item in shards.iter().flatten() {
            tenants
                .entry(TenantId(read_n(item, "tenantId")?))
                .or_default()
                .push(item);
        }
        tenants
            .into_iter()
            .map(|(tenant, shards)| Ok((tenant, counts_from(shards)?)))
            .collect()
    }

    /// Items by key, read consistently, in BatchGetItem calls of up to 100 keys (keys DynamoDB
    /// leaves unprocessed are asked again); items that do not exist are not returned.
    async fn batch_get(&self, table: &str, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for chunk in keys.chunks(BATCH_GET_KEYS) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            loop {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(table, pending)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem", e))?;
                let items = output.responses.and_then(|mut r| r.remove(table)).unwrap_or_default();
                self.usage.read(items.len());
                found.extend(items);
                match output.unprocessed_keys.and_then(|mut left| left.remove(table)) {
                    Some(left) if !left.keys().is_empty() => {
                        pending = left;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    /// The query for a tenant's sessions in `range`, in the range's order: the table itself (every
    /// session, keyed by id) or the online index.
    fn range_query(&self, tenant: TenantId, range: &KeyRange) -> QueryFluentBuilder {
        let from = range.from.unwrap_or(SessionId::MIN);
        let to = range.to.unwrap_or(SessionId::MAX);
        let query = if range.online_only {
            self.query_sessions()
                .index_name(index::ONLINE_BY_TENANT)
                .expression_attribute_names("#p", "onlineTenant")
                .expression_attribute_names("#s", "id")
                .expression_attribute_values(":p", n(tenant.get()))
                .expression_attribute_values(":from", s(from.to_string()))
                .expression_attribute_values(":to", s(to.to_string()))
        } else {
            self.query_sessions()
                .expression_attribute_names("#p", "pk")
                .expression_attribute_names("#s", "sk")
                .expression_attribute_values(":p", s(tenant_pk(tenant)))
                .expression_attribute_values(":from", s(format!("{SESSION_SK_PREFIX}{from}")))
                .expression_attribute_values(":to", s(format!("{SESSION_SK_PREFIX}{to}")))
        };
        query
            .key_condition_expression("#p = :p AND #s BETWEEN :from AND :to")
            .scan_index_forward(!range.descending)
    }

    /// Every session of a tenant in `range`.
    async fn sessions_in_range(&self, tenant: TenantId, range: &KeyRange) -> Result<Vec<Session>, StoreError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        self.query_all(self.range_query(tenant, range))
            .await?
            .iter()
            .map(session_from)
            .collect()
    }

    /// The first `want` sessions of a tenant in `range` that match `query`, in the range's order:
    /// reads `want` items when the range says all the query asks, a little more otherwise.
    async fn first_in_range(
        &self,
        tenant: TenantId,
        range: &KeyRange,
        query: &SessionQuery,
        want: usize,
    ) -> Result<Vec<Session>, StoreError> {
        let mut found = Vec::new();
        if range.is_empty() || want == 0 {
            return Ok(found);
        }
        let mut start = None;
        loop {
            let missing = want - found.len();
            let limit = if range.residual {
                (missing * 2).clamp(100, QUERY_PAGE_ITEMS)
            } else {
                missing.min(QUERY_PAGE_ITEMS)
            };
            let page = self
                .query_page(
                    self.range_query(tenant, range)
                        .limit(limit as i32)
                        .set_exclusive_start_key(start),
                )
                .await?;
            for item in page.items() {
                let session = session_from(item)?;
                if query.matches(&session) && query.is_after_cursor(&session) {
                    found.push(session);
                    if found.len() == want {
                        return Ok(found);
                    }
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    /// How many sessions of a tenant lie in `range` (a `COUNT` query: no items come back, but
    /// DynamoDB still reads the range's keys).
    async fn count_in_range(&self, tenant: TenantId, range: &KeyRange) -> Result<u64, StoreError> {
        if range.is_empty() {
            return Ok(0);
        }
        let mut count = 0u64;
        let mut start = None;
        loop {
            let page = self
                .query_page(
                    self.range_query(tenant, range)
                        .select(Select::Count)
                        .set_exclusive_start_key(start),
                )
                .await?;
            count += page.count.max(0) as u64;
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    /// A listing served in key order (see [`crate::domain::plan`]): each tenant's first matches
    /// past the cursor, merged; `total` from the counters (`counts` when the caller has read them) or a
    /// count of the range.
    async fn list_in_key_order(
        &self,
        scope: TenantScope,
        tenants: Vec<TenantId>,
        counts: Option<SessionCounts>,
        range: KeyRange,
        query: &SessionQuery,
    ) -> Result<SessionPage, StoreError> {
        // One more than the page needs says whether another page follows.
        let want = query.end() + 1;
        let page_range = range.after(query.after.as_ref().map(|p| p.id));
        let firsts = futures::stream::iter(tenants.iter().copied())
            .map(|tenant| self.first_in_range(tenant, &page_range, query, want))
            .buffered(CONCURRENCY)
            .try_collect::<Vec<_>>();
        let total = async {
            match range.counter {
                Some(counter) => {
                    let counts = match counts {
                        Some(counts) => counts,
                        None => self.session_counts(scope).await?,
                    };
                    Ok(counts.counted(counter))
                }
                None => {
                    futures::stream::iter(tenants.iter().copied())
                        .map(|tenant| self.count_in_range(tenant, &range))
                        .buffered(CONCURRENCY)
                        .try_fold(0u64, |sum, count| async move { Ok(sum + count) })
                        .await
                }
            }
        };
        let (firsts, total) = futures::try_join!(firsts, total)?;
        let mut page = select_page(firsts.into_iter().flatten(), query);
        page.total = total;
        Ok(page)
    }

    async fn get(&self, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        self.usage.read(usize::from(output.item.is_some()));
        Ok(output.item)
    }

    /// What is known of a connection, read consistently.
    async fn connection(&self, connection_id: &str) -> Result<Connection, StoreError> {
        let (tenant, id) = match self.session_key_of(connection_id).await? {
            SessionOf::Unknown => return Ok(Connection::Unknown),
            SessionOf::None => return Ok(Connection::Closed),
            SessionOf::Key(tenant, id) => (tenant, id),
        };
        match self.get(&self.tables.sessions, session_key(tenant, id)).await? {
            Some(item) => bound_session_from(&item).map(|bound| Connection::Of(Box::new(bound))),
            None => Ok(Connection::Closed),
        }
    }

    /// Which session a connection carries (or carried), from its connection item alone.
    async fn session_key_of(&self, connection_id: &str) -> Result<SessionOf, StoreError> {
        let Some(connection) = self.get(&self.tables.sessions, connection_key(connection_id)).await? else {
            return Ok(SessionOf::Unknown);
        };
        let Some(id) = opt_s(&connection, "sessionId")? else {
            return Ok(SessionOf::None);
        };
        let tenant = TenantId(read_n(&connection, "tenantId")?);
        let id = id.parse().map_err(|_| corrupt("sessionId"))?;
        Ok(SessionOf::Key(tenant, id))
    }

    /// Remembers an unknown connection as closed, so that a `$connect` arriving after its
    /// `$disconnect` is refused; `false` when the connection became known meanwhile.
    async fn put_tombstone(&self, connection_id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let mut item = connection_key(connection_id);
        item.insert(SESSIONS_TTL_ATTRIBUTE.into(), n(at.secs() + CONNECTION_TTL_SECS));
        let put = self
            .client
            .put_item()
            .table_name(&self.tables.sessions)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk");
        let result = retry_conflicts(|| put.clone().send()).await;
        self.usage.wrote(1);
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }

    /// Runs a transaction; `Ok(false)` when a condition failed (nothing was written), `Ok(true)`
    /// when it was written, by this attempt or by an earlier one whose answer was lost ([`Write`]).
    async fn transact(&self, writes: Vec<Write>) -> Result<bool, StoreError> {
        Ok(matches!(self.transact_detailed(writes).await?, Transacted::Written))
    }

    /// Runs a transaction and says why it was refused, when it was. A transaction conflict or
    /// throttling (neither retried by the SDK) is tried again after a jittered backoff, each
    /// counter change on a newly drawn shard, up to [`CONFLICT_ATTEMPTS`] times; past that the
    /// store is [`StoreError::Unavailable`].
    async fn transact_detailed(&self, mut writes: Vec<Write>) -> Result<Transacted, StoreError> {
        let mut attempt = 0;
        loop {
            let actions: Vec<TransactWriteItem> = writes.iter().map(|write| write.action.clone()).collect();
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions))
                .send()
                .await;
            self.usage.wrote(writes.len());
            let error = match result {
                Ok(_) => return Ok(Transacted::Written),
                Err(error) => error,
            };
            let reasons: Vec<CancellationReason> = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    cancelled.cancellation_reasons().to_vec()
                }
                _ => return Err(sdk_error("TransactWriteItems", error)),
            };
            let codes: Vec<&str> = reasons.iter().filter_map(CancellationReason::code).collect();
            if codes.contains(&"ConditionalCheckFailed") {
                let recognisable = writes.iter().filter(|write| !write.landed.is_empty()).count();
                let landed_before = writes
                    .iter()
                    .zip(&reasons)
                    .filter(|(write, reason)| write.landed_before(reason))
                    .count();
                return Ok(if recognisable > 0 && landed_before == recognisable {
                    Transacted::Written
                } else {
                    Transacted::Refused(reasons)
                });
            }
            let passing = codes.iter().any(|code| {
                CONFLICT_CODES.contains(code)
                    || THROTTLE_CODES
                        .iter()
                        .any(|t| code.starts_with(t.trim_end_matches("Exception")))
            });
            if !passing {
                return Err(StoreError::Failure(format!("TransactWriteItems cancelled: {codes:?}")));
            }
            attempt += 1;
            if attempt >= CONFLICT_ATTEMPTS {
                return Err(StoreError::Unavailable(format!(
                    "TransactWriteItems cancelled {attempt} times: {codes:?}"
                )));
            }
            backoff(attempt).await;
            for write in &mut writes {
                if let Some(change) = write.counter {
                    *write = self.counter_write(change)?;
                }
            }
        }
    }

    /// Runs one conditional action per item, in transactions of up to 99 together with
    /// `counter(n)` (the counter change for the `n` items of that transaction), when there is one.
    /// A transaction whose condition fails (someone changed an item meanwhile) is redone one item
    /// at a time, so each item counts once, by whoever changed it. Returns which actions applied.
    async fn apply_each(
        &self,
        actions: Vec<Write>,
        counter: impl Fn(i64) -> Option<CounterChange> + Sync,
    ) -> Result<Vec<bool>, StoreError> {
        let counter = &counter;
        // Owned chunks: a stream over borrowed slices trips the compiler's Send inference.
        let chunks: Vec<Vec<Write>> = actions.chunks(TRANSACTION_ITEMS).map(<[_]>::to_vec).collect();
        let per_chunk: Vec<Vec<bool>> = futures::stream::iter(chunks)
            .map(|chunk| async move {
                // Past the request's time budget, batches not yet started are left undone.
                if Budget::exhausted() {
                    return Ok(vec![false; chunk.len()]);
                }
                let mut batch = chunk.clone();
                if let Some(change) = counter(chunk.len() as i64) {
                    batch.push(self.counter_write(change)?);
                }
                if self.transact(batch).await? {
                    return Ok(vec![true; chunk.len()]);
                }
                let mut applied = Vec::with_capacity(chunk.len());
                for action in chunk {
                    let mut single = vec![action];
                    if let Some(change) = counter(1) {
                        single.push(self.counter_write(change)?);
                    }
                    applied.push(self.transact(single).await?);
                }
                Ok::<_, StoreError>(applied)
            })
            // In order, as the result lines up with `actions`.
            .buffered(TRANSACTION_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(per_chunk.into_iter().flatten().collect())
    }

    /// Ends `sessions` (all of one tenant) that are still online (and, with `seen_before`, still
    /// last seen before it); returns the sessions this call ended.
    async fn end_of_tenant(
        &self,
        tenant: TenantId,
        sessions: Vec<Session>,
        at: Timestamp,
        reason: OfflineReason,
        seen_before: Option<Timestamp>,
    ) -> Result<Vec<Session>, StoreError> {
        let actions = sessions
            .iter()
            .map(|s| self.end_action(s, s.end_time(at), reason, seen_before))
            .collect::<Result<_, _>>()?;
        let applied = self
            .apply_each(actions, |n| {
                Some(CounterChange {
                    tenant,
                    sessions: 0,
                    online: -n,
                })
            })
            .await?;
        Ok(sessions
            .into_iter()
            .zip(applied)
            .filter(|(_, applied)| *applied)
            .map(|(s, _)| s.ended(at, reason))
            .collect())
    }

    /// Ends one session if it is still online (and last seen before `seen_before`), moving it from
    /// the online indexes to the ended one.
    fn end_action(
        &self,
        session: &Session,
        at: Timestamp,
        reason: OfflineReason,
        seen_before: Option<Timestamp>,
    ) -> Result<Write, StoreError> {
        // This write's own mark: two calls may end a session at the same time for the same reason
        // (in the same millisecond, or both at its start), and only one of them ended it.
        let ended_by = write_mark();
        let mut update = Update::builder()
            .table_name(&self.tables.sessions)
            .set_key(Some(session_key(session.tenant_id, session.id)))
            .update_expression("SET #off = :at, #reason = :reason, #ended = :shard, #by = :by REMOVE #ot, #ou, #os")
            .condition_expression("attribute_exists(#ot)")
            .expression_attribute_names("#off", "offlineDate")
            .expression_attribute_names("#reason", "offlineReason")
            .expression_attribute_names("#ended", "endedShard")
            .expression_attribute_names("#by", "endedBy")
            .expression_attribute_names("#ot", "onlineTenant")
            .expression_attribute_names("#ou", "onlineUser")
            .expression_attribute_names("#os", "onlineShard")
            .expression_attribute_values(":at", n(at.millis()))
            .expression_attribute_values(":reason", s(reason.as_str()))
            .expression_attribute_values(":shard", s(shard_of(session.id)))
            .expression_attribute_values(":by", s(&ended_by))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(cutoff) = seen_before {
            update = update
                .condition_expression("attribute_exists(#ot) AND #seen < :cutoff")
                .expression_attribute_names("#seen", "lastSeenDate")
                .expression_attribute_values(":cutoff", n(cutoff.millis()));
        }
        Ok(Write {
            action: TransactWriteItem::builder()
                .update(update.build().map_err(build_error)?)
                .build(),
            landed: vec![("endedBy", s(ended_by))],
            counter: None,
        })
    }

    /// Deletes one session if it has ended.
    fn delete_action(&self, session: &Session) -> Result<Write, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.tables.sessions)
            .set_key(Some(session_key(session.tenant_id, session.id)))
            .condition_expression("attribute_exists(#off)")
            .expression_attribute_names("#off", "offlineDate")
            .build()
            .map_err(build_error)?;
        Ok(Write::plain(TransactWriteItem::builder().delete(delete).build()))
    }

    /// Items of one cleanup index whose sort key is below `cutoff`, lowest first, across the
    /// shards, at most `limit`: each shard's query stops at `limit`, so a run reads what it acts
    /// on and the next run starts where this one stopped (acted-on items leave the index).
    async fn below_cutoff(
        &self,
        query: impl Fn() -> QueryFluentBuilder,
        shard_attribute: &str,
        sort_attribute: &str,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let limit_i32 = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let mut items = Vec::new();
        for shard in 0..SHARDS {
            let page = self
                .query_page(
                    query()
                        .key_condition_expression("#shard = :shard AND #sort < :cutoff")
                        .expression_attribute_names("#shard", shard_attribute)
                        .expression_attribute_names("#sort", sort_attribute)
                        .expression_attribute_values(":shard", s(shard.to_string()))
                        .expression_attribute_values(":cutoff", n(cutoff.millis()))
                        .limit(limit_i32),
                )
                .await?;
            items.extend(page.items.unwrap_or_default());
        }
        items.sort_by_key(|item| opt_n(item, sort_attribute).ok().flatten());
        items.truncate(limit);
        Ok(items)
    }

    /// Adds to one of a tenant's counter shards, drawn at random (creating it at zero).
    fn count_update(&self, change: CounterChange) -> Result<Update, StoreError> {
        let shard = random_below(u64::from(COUNTER_SHARDS)) as u32;
        Update::builder()
            .table_name(&self.tables.sessions)
            .set_key(Some(counter_key(change.tenant, shard)))
            .update_expression("SET #tenant = :tenant ADD #sessions :sessions, #online :online")
            .expression_attribute_names("#tenant", "tenantId")
            .expression_attribute_names("#sessions", "sessions")
            .expression_attribute_names("#online", "online")
            .expression_attribute_values(":tenant", n(change.tenant.get()))
            .expression_attribute_values(":sessions", n(change.sessions))
            .expression_attribute_values(":online", n(change.online))
            .build()
            .map_err(build_error)
    }

    /// A counter change as a write of a transaction.
    fn counter_write(&self, change: CounterChange) -> Result<Write, StoreError> {
        Ok(Write {
            action: TransactWriteItem::builder().update(self.count_update(change)?).build(),
            landed: Vec::new(),
            counter: Some(change),
        })
    }

    /// Puts an item that must not exist yet; `mark` is the attribute that makes it this call's.
    fn put_new(&self, item: Item, mark: &'static str) -> Result<Write, StoreError> {
        let landed = item.get(mark).cloned().map(|value| (mark, value)).into_iter().collect();
        let put = Put::builder()
            .table_name(&self.tables.sessions)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        Ok(Write {
            action: TransactWriteItem::builder().put(put).build(),
            landed,
            counter: None,
        })
    }

    /// The tenants in `scope` where a user has a token or a session: its tokens first (a few
    /// items), then its sessions, reading only their `tenantId`; a one-tenant scope stops at the
    /// first sign of the user there. A user id may be known in several tenants (ids are the
    /// identity service's, and tenants do not share them by rule), so every one counts.
    async fn user_tenants(&self, user_id: UserId, scope: TenantScope) -> Result<BTreeSet<TenantId>, StoreError> {
        let mut tenants = BTreeSet::new();
        for query in [
            self.query_tokens().index_name(index::TOKENS_BY_USER),
            self.query_sessions().index_name(index::SESSIONS_BY_USER),
        ] {
            let query = query
                .key_condition_expression("#u = :u")
                .projection_expression("#t")
                .expression_attribute_names("#u", "userId")
                .expression_attribute_names("#t", "tenantId")
                .expression_attribute_values(":u", n(user_id.get()));
            let mut start = None;
            loop {
                let page = self.query_page(query.clone().set_exclusive_start_key(start)).await?;
                for item in page.items() {
                    let tenant = TenantId(read_n(item, "tenantId")?);
                    if scope.contains(tenant) {
                        tenants.insert(tenant);
                    }
                }
                if matches!(scope, TenantScope::Tenant(_)) && !tenants.is_empty() {
                    return Ok(tenants);
                }
                start = page.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(tenants)
    }

    /// A user's online sessions in its tenant.
    async fn online_sessions_of(&self, user: UserRef) -> Result<Vec<Session>, StoreError> {
        let items = self
            .query_all(
                self.query_sessions()
                    .index_name(index::ONLINE_BY_USER)
                    .key_condition_expression("#u = :u")
                    .expression_attribute_names("#u", "onlineUser")
                    .expression_attribute_values(":u", n(user.user_id.get())),
            )
            .await?;
        let sessions = items.iter().map(session_from).collect::<Result<Vec<_>, _>>()?;
        Ok(sessions.into_iter().filter(|s| s.tenant_id == user.tenant_id).collect())
    }

    async fn revoke_tokens_of(&self, user: UserRef, at: Timestamp) -> Result<u64, StoreError> {
        let items = self
            .query_all(
                self.query_tokens()
                    .index_name(index::TOKENS_BY_USER)
                    .key_condition_expression("#u = :u")
                    .expression_attribute_names("#u", "userId")
                    .expression_attribute_values(":u", n(user.user_id.get())),
            )
            .await?;
        let tokens = items
            .iter()
            .map(token_from)
            .filter(|token| token.as_ref().map_or(true, |t| t.tenant_id == user.tenant_id))
            .collect::<Result<Vec<_>, _>>()?;
        self.revoke_tokens(tokens, at).await
    }

    /// Revokes these tokens, those not revoked yet, in transactions of up to 99 conditional
    /// updates (a tenant of 10,000 tokens is ~100 calls, at twice the write units of single
    /// updates); returns how many this call revoked (one revoked meanwhile is not counted).
    async fn revoke_tokens(&self, tokens: Vec<TokenRecord>, at: Timestamp) -> Result<u64, StoreError> {
        let actions = tokens
            .iter()
            .filter(|t| t.revoked_at.is_none())
            .map(|token| {
                // This write's own mark, as for ending a session ([`DynamoStore::end_action`]).
                let revoked_by = write_mark();
                let update = Update::builder()
                    .table_name(&self.tables.tokens)
                    .key("tokenHash", s(token.hash.as_str()))
                    .update_expression("SET #revoked = :at, #by = :by")
                    .condition_expression("attribute_exists(#hash) AND attribute_not_exists(#revoked)")
                    .expression_attribute_names("#revoked", "revokedAt")
                    .expression_attribute_names("#by", "revokedBy")
                    .expression_attribute_names("#hash", "tokenHash")
                    .expression_attribute_values(":at", n(at.millis()))
                    .expression_attribute_values(":by", s(&revoked_by))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(build_error)?;
                Ok(Write {
                    action: TransactWriteItem::builder().update(update).build(),
                    landed: vec![("revokedBy", s(revoked_by))],
                    counter: None,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let applied = self.apply_each(actions, |_| None).await?;
        Ok(applied.into_iter().filter(|a| *a).count() as u64)
    }
}

#[async_trait]
impl Store for DynamoStore {
    /// What this store (and its clones) asked of DynamoDB so far.
    fn usage(&self) -> UsageSnapshot {
        UsageSnapshot {
            calls: self.usage.calls.load(Relaxed),
            items_read: self.usage.items_read.load(Relaxed),
            items_written: self.usage.items_written.load(Relaxed),
        }
    }

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
        let key = HashMap::from([("tokenHash".to_owned(), s(hash.as_str()))]);
        self.get(&self.tables.tokens, key)
            .await?
            .as_ref()
            .map(token_from)
            .transpose()
    }

    async fn revoke_user_tokens(&self, users: &[UserRef], at: Timestamp) -> Result<u64, StoreError> {
        let counts: Vec<u64> = futures::stream::iter(users.iter().copied())
            .map(|user| self.revoke_tokens_of(user, at))
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(counts.into_iter().sum())
    }

    async fn open_session(&self, session: &Session, check: Option<&ConnectCheck>) -> Result<Opened, StoreError> {
        let mut writes = vec![
            self.put_new(session_item(session, check.map(|c| &c.token)), "id")?,
            self.put_new(connection_item(session), "sessionId")?,
            self.counter_write(CounterChange {
                tenant: session.tenant_id,
                sessions: 1,
                online: i64::from(session.online()),
            })?,
        ];
        // Where each check stands in the transaction, to read its cancellation reason.
        let mut token_check = None;
        let mut rate_check = None;
        if let Some(check) = check {
            let unrevoked = ConditionCheck::builder()
                .table_name(&self.tables.tokens)
                .key("tokenHash", s(check.token.as_str()))
                .condition_expression("attribute_exists(#hash) AND attribute_not_exists(#revoked)")
                .expression_attribute_names("#hash", "tokenHash")
                .expression_attribute_names("#revoked", "revokedAt")
                .build()
                .map_err(build_error)?;
            token_check = Some(writes.len());
            writes.push(Write::plain(
                TransactWriteItem::builder().condition_check(unrevoked).build(),
            ));
            if let Some(limit) = check.per_minute {
                let minute = session.online_date.epoch_minute();
                let within_rate = Update::builder()
                    .table_name(&self.tables.sessions)
                    .set_key(Some(connect_rate_key(session.tenant_id, session.user_id, minute)))
                    .update_expression("SET #ttl = :ttl ADD #n :one")
                    .condition_expression("attribute_not_exists(#n) OR #n < :limit")
                    .expression_attribute_names("#n", "n")
                    .expression_attribute_names("#ttl", SESSIONS_TTL_ATTRIBUTE)
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":limit", n(i64::from(limit)))
                    .expression_attribute_values(":ttl", n((minute + 2) * 60))
                    .build()
                    .map_err(build_error)?;
                rate_check = Some(writes.len());
                writes.push(Write::plain(TransactWriteItem::builder().update(within_rate).build()));
            }
        }
        let reasons = match self.transact_detailed(writes).await? {
            Transacted::Written => return Ok(Opened::Recorded),
            Transacted::Refused(reasons) => reasons,
        };
        let failed = |at: Option<usize>| {
            at.and_then(|i| reasons.get(i))
                .is_some_and(|reason| reason.code() == Some("ConditionalCheckFailed"))
        };
        Ok(if failed(token_check) {
            Opened::TokenRevoked
        } else if failed(rate_check) {
            Opened::RateLimited
        } else {
            Opened::ConnectionKnown
        })
    }

    async fn close_connection(
        &self,
        connection_id: &str,
        at: Timestamp,
        reason: OfflineReason,
    ) -> Result<Option<Session>, StoreError> {
        // Twice at most: an unknown connection whose tombstone loses to a concurrent connect is
        // read again, and then known.
        for _ in 0..2 {
            match self.connection(connection_id).await? {
                Connection::Of(bound) if bound.session.online() => {
                    let tenant = bound.session.tenant_id;
                    return Ok(self
                        .end_of_tenant(tenant, vec![bound.session], at, reason, None)
                        .await?
                        .pop());
                }
                Connection::Of(_) | Connection::Closed => return Ok(None),
                Connection::Unknown => {
                    if self.put_tombstone(connection_id, at).await? {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(None)
    }

    /// Two calls on the hot path: the connection item, then the session's update conditioned on
    /// its being online, which returns the session (no read of the session first).
    async fn touch_connection(&self, connection_id: &str, at: Timestamp) -> Result<Option<BoundSession>, StoreError> {
        let SessionOf::Key(tenant, id) = self.session_key_of(connection_id).await? else {
            return Ok(None);
        };
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .set_key(Some(session_key(tenant, id)))
            .update_expression("SET #seen = :at")
            .condition_expression("attribute_exists(#ot) AND #seen <= :at")
            .expression_attribute_names("#seen", "lastSeenDate")
            .expression_attribute_names("#ot", "onlineTenant")
            .expression_attribute_values(":at", n(at.millis()))
            .return_values(ReturnValue::AllNew);
        let result = retry_conflicts(|| update.clone().send()).await;
        self.usage.wrote(1);
        match result {
            Ok(output) => output.attributes.as_ref().map(bound_session_from).transpose(),
            // Ended (or gone), or a later heartbeat already landed: the session stands as it is.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(match self.connection(connection_id).await? {
                    Connection::Of(bound) if bound.session.online() => Some(*bound),
                    _ => None,
                })
            }
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }

    async fn end_sessions(
        &self,
        sessions: &[Session],
        at: Timestamp,
        reason: OfflineReason,
    ) -> Result<Vec<Session>, StoreError> {
        let ended: Vec<Vec<Session>> = futures::stream::iter(by_tenant(sessions))
            .map(|(tenant, sessions)| self.end_of_tenant(tenant, sessions, at, reason, None))
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(ended.into_iter().flatten().collect())
    }

    async fn list_sessions(&self, scope: TenantScope, query: &SessionQuery) -> Result<SessionPage, StoreError> {
        // A platform caller's tenants come with their counts: the one read serves both.
        let (tenants, counts) = match scope {
            TenantScope::Tenant(tenant) => (vec![tenant], None),
            TenantScope::All => {
                let tenants = self.tenants().await?;
                let counts = sum_counts(&tenants);
                (tenants.into_iter().map(|(tenant, _)| tenant).collect(), Some(counts))
            }
        };
        let range = key_range(query);
        match range {
            // The total is cheap (a counter, or a count of the range): read only the page.
            Some(range) if range.counter.is_some() || !range.residual => {
                self.list_in_key_order(scope, tenants, counts, range, query).await
            }
            // Read every candidate, narrowed to the id range or the online index when possible.
            _ => {
                let range = range.unwrap_or_else(|| KeyRange::everything(wants_online_only(query)));
                let per_tenant: Vec<Vec<Session>> = futures::stream::iter(tenants)
                    .map(|tenant| self.sessions_in_range(tenant, &range))
                    .buffered(CONCURRENCY)
                    .try_collect()
                    .await?;
                Ok(select_page(per_tenant.into_iter().flatten(), query))
            }
        }
    }

    async fn user_sessions(
        &self,
        scope: TenantScope,
        user_id: UserId,
        ended_limit: usize,
    ) -> Result<Vec<Session>, StoreError> {
        let newest = async {
            // Newest first, one page more than the limit, enough to hold `ended_limit` ended ones
            // unless the user has many online sessions (those come from the online index anyway).
            let output = self
                .query_page(
                    self.query_sessions()
                        .index_name(index::SESSIONS_BY_USER)
                        .key_condition_expression("#u = :u")
                        .expression_attribute_names("#u", "userId")
                        .expression_attribute_values(":u", n(user_id.get()))
                        .scan_index_forward(false)
                        .limit(i32::try_from(ended_limit + 1).unwrap_or(i32::MAX)),
                )
                .await?;
            output.items().iter().map(session_from).collect::<Result<Vec<_>, _>>()
        };
        let online = async {
            let items = self
                .query_all(
                    self.query_sessions()
                        .index_name(index::ONLINE_BY_USER)
                        .key_condition_expression("#u = :u")
                        .expression_attribute_names("#u", "onlineUser")
                        .expression_attribute_values(":u", n(user_id.get())),
                )
                .await?;
            items.iter().map(session_from).collect::<Result<Vec<_>, _>>()
        };
        let (newest, online) = futures::try_join!(newest, online)?;
        let by_id: BTreeMap<SessionId, Session> = online
            .into_iter()
            .chain(newest)
            .filter(|s| scope.contains(s.tenant_id))
            .map(|s| (s.id, s))
            .collect();
        let mut ended = 0;
        Ok(by_id
            .into_values()
            .rev()
            .filter(|s| {
                s.online() || {
                    ended += 1;
                    ended <= ended_limit
                }
            })
            .collect())
    }

    async fn session_counts(&self, scope: TenantScope) -> Result<SessionCounts, StoreError> {
        match scope {
            TenantScope::Tenant(tenant) => {
                let keys = (0..COUNTER_SHARDS).map(|shard| counter_key(tenant, shard)).collect();
                let shards = self.batch_get(&self.tables.sessions, keys).await?;
                counts_from(shards.iter())
            }
            TenantScope::All => Ok(sum_counts(&self.tenants().await?)),
        }
    }

    async fn find_users(&self, scope: TenantScope, user_ids: &[UserId]) -> Result<Vec<UserRef>, StoreError> {
        let found: Vec<BTreeSet<TenantId>> = futures::stream::iter(user_ids.iter().copied())
            .map(|user_id| self.user_tenants(user_id, scope))
            .buffered(CONCURRENCY)
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

    /// One read of the tenant's tokens and one of its online sessions, whatever its size or the
    /// number of users targeted; the tokens go first, so no client signs in again between the two.
    async fn force_tenant_offline(
        &self,
        tenant: TenantId,
        only_users: Option<&BTreeSet<UserId>>,
        at: Timestamp,
        reason: OfflineReason,
    ) -> Result<TenantOffline, StoreError> {
        let targeted = |user_id: &UserId| only_users.is_none_or(|only| only.contains(user_id));
        let tokens = self
            .query_all(
                self.query_tokens()
                    .index_name(index::TOKENS_BY_TENANT)
                    .key_condition_expression("#t = :t")
                    .expression_attribute_names("#t", "tenantId")
                    .expression_attribute_values(":t", n(tenant.get())),
            )
            .await?
            .iter()
            .map(token_from)
            .filter(|token| token.as_ref().map_or(true, |t| targeted(&t.user_id)))
            .collect::<Result<Vec<_>, _>>()?;
        let users_with_tokens: Vec<UserId> = tokens.iter().map(|t| t.user_id).collect();
        let revoked = self.revoke_tokens(tokens, at).await?;
        let mut online = self.sessions_in_range(tenant, &KeyRange::everything(true)).await?;
        online.retain(|session| targeted(&session.user_id));
        let users: BTreeSet<UserRef> = users_with_tokens
            .into_iter()
            .chain(online.iter().map(|s| s.user_id))
            .map(|user_id| UserRef {
                user_id,
                tenant_id: tenant,
            })
            .collect();
        let ended = self.end_of_tenant(tenant, online, at, reason, None).await?;
        Ok(TenantOffline {
            users: users.into_iter().collect(),
            tokens: revoked,
            ended,
        })
    }

    async fn end_user_sessions(
        &self,
        users: &[UserRef],
        at: Timestamp,
        reason: OfflineReason,
    ) -> Result<Vec<Session>, StoreError> {
        let online: Vec<Vec<Session>> = futures::stream::iter(users.iter().copied())
            .map(|user| self.online_sessions_of(user))
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let online: Vec<Session> = online.into_iter().flatten().collect();
        self.end_sessions(&online, at, reason).await
    }

    async fn stale_sessions(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Session>, StoreError> {
        let items = self
            .below_cutoff(
                || self.query_sessions().index_name(index::STALE_BY_SHARD),
                "onlineShard",
                "lastSeenDate",
                cutoff,
                limit,
            )
            .await?;
        items.iter().map(session_from).collect()
    }

    async fn end_stale_sessions(
        &self,
        sessions: &[Session],
        cutoff: Timestamp,
        at: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        let mut ended = Vec::new();
        for (tenant, sessions) in by_tenant(sessions) {
            ended.extend(
                self.end_of_tenant(tenant, sessions, at, OfflineReason::Stale, Some(cutoff))
                    .await?,
            );
        }
        Ok(ended)
    }

    async fn ended_sessions_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Session>, StoreError> {
        let items = self
            .below_cutoff(
                || self.query_sessions().index_name(index::ENDED_BY_SHARD),
                "endedShard",
                "offlineDate",
                cutoff,
                limit,
            )
            .await?;
        items.iter().map(session_from).collect()
    }

    async fn delete_ended_sessions(&self, sessions: &[Session]) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for (tenant, sessions) in by_tenant(sessions) {
            let actions = sessions
                .iter()
                .map(|s| self.delete_action(s))
                .collect::<Result<_, _>>()?;
            let applied = self
                .apply_each(actions, |n| {
                    Some(CounterChange {
                        tenant,
                        sessions: -n,
                        online: 0,
                    })
                })
                .await?;
            deleted += applied.into_iter().filter(|a| *a).count() as u64;
        }
        Ok(deleted)
    }

    /// Walks the `staleByShard` index (every online session, by shard), one query page at a time;
    /// the cursor is the shard and the page's last key.
    async fn online_sessions_page(&self, after: Option<&str>, limit: usize) -> Result<SweepPage, StoreError> {
        let (mut shard, mut start) = match after {
            None => (0, None),
            Some(cursor) => SweepCursor::parse(cursor)?,
        };
        let limit = i32::try_from(limit.clamp(1, QUERY_PAGE_ITEMS)).unwrap_or(1);
        while shard < SHARDS {
            let page = self
                .query_page(
                    self.query_sessions()
                        .index_name(index::STALE_BY_SHARD)
                        .key_condition_expression("#shard = :shard")
                        .expression_attribute_names("#shard", "onlineShard")
                        .expression_attribute_values(":shard", s(shard.to_string()))
                        .limit(limit)
                        .set_exclusive_start_key(start.take()),
                )
                .await?;
            let sessions = page
                .items()
                .iter()
                .map(bound_session_from)
                .collect::<Result<Vec<_>, _>>()?;
            let next = match page.last_evaluated_key {
                // More of this shard: an empty page goes on reading it, a page answers.
                Some(key) if sessions.is_empty() => {
                    start = Some(key);
                    continue;
                }
                Some(key) => Some(SweepCursor::format(shard, &key)?),
                None => {
                    shard += 1;
                    if sessions.is_empty() {
                        continue;
                    }
                    (shard < SHARDS)
                        .then(|| SweepCursor::format(shard, &Item::new()))
                        .transpose()?
                }
            };
            return Ok(SweepPage { sessions, next });
        }
        Ok(SweepPage::default())
    }

    async fn tokens(&self, hashes: &[TokenHash]) -> Result<Vec<TokenRecord>, StoreError> {
        let distinct: BTreeSet<&TokenHash> = hashes.iter().collect();
        let keys = distinct
            .into_iter()
            .map(|hash| HashMap::from([("tokenHash".to_owned(), s(hash.as_str()))]))
            .collect();
        self.batch_get(&self.tables.tokens, keys)
            .await?
            .iter()
            .map(token_from)
            .collect()
    }

    async fn expired_tokens(&self, now: Timestamp, limit: usize) -> Result<Vec<TokenHash>, StoreError> {
        let items = self
            .below_cutoff(
                || self.query_tokens().index_name(index::EXPIRY_BY_SHARD),
                "expiryShard",
                "expiresAt",
                now,
                limit,
            )
            .await?;
        items
            .iter()
            .map(|item| read_s(item, "tokenHash").map(TokenHash::from_stored))
            .collect()
    }

    async fn delete_expired_tokens(&self, hashes: &[TokenHash], now: Timestamp) -> Result<u64, StoreError> {
        let actions = hashes
            .iter()
            .map(|hash| {
                let delete = Delete::builder()
                    .table_name(&self.tables.tokens)
                    .key("tokenHash", s(hash.as_str()))
                    .condition_expression("#exp < :now")
                    .expression_attribute_names("#exp", "expiresAt")
                    .expression_attribute_values(":now", n(now.millis()))
                    .build()
                    .map_err(build_error)?;
                Ok(Write::plain(TransactWriteItem::builder().delete(delete).build()))
            })
            .collect::<Result<_, StoreError>>()?;
        let applied = self.apply_each(actions, |_| None).await?;
        Ok(applied.into_iter().filter(|a| *a).count() as u64)
    }
}

/// The counts of every tenant together.
fn sum_counts(tenants: &[(TenantId, SessionCounts)]) -> SessionCounts {
    tenants
        .iter()
        .fold(SessionCounts::default(), |sum, (_, c)| SessionCounts {
            sessions: sum.sessions + c.sessions,
            online: sum.online + c.online,
        })
}

/// Sessions grouped by tenant (each tenant's counter moves with its sessions).
fn by_tenant(sessions: &[Session]) -> BTreeMap<TenantId, Vec<Session>> {
    let mut grouped: BTreeMap<TenantId, Vec<Session>> = BTreeMap::new();
    for session in sessions {
        grouped.entry(session.tenant_id).or_default().push(session.clone());
    }
    grouped
}

/// Whether the query keeps only online sessions, so the online index holds every candidate.
fn wants_online_only(query: &SessionQuery) -> bool {
    query.filters.iter().any(|f| {
        f.key == FilterKey::Online
            && match f.op {
                FilterOp::Equal | FilterOp::In => f.values.iter().all(|v| *v == FilterValue::Bool(true)),
                FilterOp::NotEqual | FilterOp::NotIn => f.values.iter().all(|v| *v == FilterValue::Bool(false)),
                _ => false,
            }
    })
}

// ---- errors ----

/// A failed call as the store reports it: throttling, a 5xx, a timeout or a connection that failed
/// (each retried by the SDK first) is [`StoreError::Unavailable`], which callers see as a 503 to
/// retry; anything else is a [`StoreError::Failure`].
fn sdk_error<E>(operation: &str, error: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let passing = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            error
                .code()
                .is_some_and(|code| THROTTLE_CODES.contains(&code) || CONFLICT_CODES.contains(&code))
                || service.raw().status().is_server_error()
        }
        _ => false,
    };
    let detail = format!("{operation}: {}", DisplayErrorContext(&error));
    if passing {
        StoreError::Unavailable(detail)
    } else {
        StoreError::Failure(detail)
    }
}

fn build_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Failure(format!("request did not build: {error}"))
}

// ---- keys ----

/// The partition key of counter shard `shard`: [`COUNTER_SHARDS`] partitions, so no one key takes
/// every session change of a busy tenant.
fn counters_pk(shard: u32) -> String {
    format!("COUNT#{shard}")
}
/// How long a connection item lives (DynamoDB TTL): API Gateway ends every WebSocket connection
/// within 2 hours, so after a day its id can no longer arrive.
const CONNECTION_TTL_SECS: i64 = 24 * 3600;
const SESSION_SK_PREFIX: &str = "S#";

fn tenant_pk(tenant: TenantId) -> String {
    format!("T#{tenant}")
}

fn session_key(tenant: TenantId, id: SessionId) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(tenant_pk(tenant))),
        ("sk".to_owned(), s(format!("{SESSION_SK_PREFIX}{id}"))),
    ])
}

fn connection_key(connection_id: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(format!("C#{connection_id}"))),
        ("sk".to_owned(), s("C")),
    ])
}

fn counter_key(tenant: TenantId, shard: u32) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(counters_pk(shard))),
        ("sk".to_owned(), s(tenant_pk(tenant))),
    ])
}

/// Where a token sweep stands: a shard of `staleByShard` and the last key read there, as
/// `shard|pk|sk|lastSeenDate` (none of these holds a `|`), or `shard|` at a shard's start.
struct SweepCursor;

impl SweepCursor {
    fn format(shard: u32, key: &Item) -> Result<String, StoreError> {
        if key.is_empty() {
            return Ok(format!("{shard}|"));
        }
        Ok(format!(
            "{shard}|{}|{}|{}",
            read_s(key, "pk")?,
            read_s(key, "sk")?,
            read_n(key, "lastSeenDate")?
        ))
    }

    fn parse(cursor: &str) -> Result<(u32, Option<Item>), StoreError> {
        let bad = || StoreError::Failure(format!("not a sweep cursor: {cursor}"));
        let mut parts = cursor.split('|');
        let shard: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let rest: Vec<&str> = parts.collect();
        match rest.as_slice() {
            [""] => Ok((shard, None)),
            [pk, sk, seen] => {
                let seen: i64 = seen.parse().map_err(|_| bad())?;
                Ok((
                    shard,
                    Some(HashMap::from([
                        ("pk".to_owned(), s(*pk)),
                        ("sk".to_owned(), s(*sk)),
                        ("onlineShard".to_owned(), s(shard.to_string())),
                        ("lastSeenDate".to_owned(), n(seen)),
                    ])),
                ))
            }
            _ => Err(bad()),
        }
    }
}

/// The key of a user's connect-rate item for one minute.
fn connect_rate_key(tenant: TenantId, user: UserId, minute: i64) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(format!("R#{tenant}#{user}"))),
        ("sk".to_owned(), s(minute.to_string())),
    ])
}

/// A random number below `bound` (shards, jitter): from the random bits of a fresh ULID.
fn random_below(bound: u64) -> u64 {
    (ulid::Ulid::new().random() % u128::from(bound.max(1))) as u64
}

/// Waits before retry `attempt` (1, 2, ...): exponential from 20 ms, capped at 400 ms, with
/// full jitter in its upper half so that the writers that met do not meet again.
async fn backoff(attempt: u32) {
    let cap = (10u64 << attempt.min(6)).min(400);
    let wait = cap / 2 + random_below(cap / 2 + 1);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// Sends a single-item write again while it meets a transaction that holds its item
/// (`TransactionConflictException`, which the SDK does not retry), [`CONFLICT_ATTEMPTS`] times at
/// most; the last error is returned as it came.
async fn retry_conflicts<T, E, F, Fut>(send: F) -> Result<T, SdkError<E>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E>>>,
    E: ProvideErrorMetadata,
{
    let mut attempt = 0;
    loop {
        match send().await {
            Err(error) if attempt + 1 < CONFLICT_ATTEMPTS && error.code() == Some("TransactionConflictException") => {
                attempt += 1;
                backoff(attempt).await;
            }
            other => return other,
        }
    }
}

/// A session's cleanup-index shard, from its id's random bits.
fn shard_of(id: SessionId) -> String {
    (id.0.random() % u128::from(SHARDS)).to_string()
}

// ---- items ----

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn put_opt(item: &mut Item, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), s(value));
    }
}

/// A session as stored; `token` is the hash of the token it was opened with, when there is one.
fn session_item(session: &Session, token: Option<&TokenHash>) -> Item {
    let mut item = session_key(session.tenant_id, session.id);
    put_opt(&mut item, "tokenHash", token.map(TokenHash::as_str));
    item.insert("id".into(), s(session.id.to_string()));
    item.insert("tenantId".into(), n(session.tenant_id.get()));
    item.insert("userId".into(), n(session.user_id.get()));
    item.insert("fullName".into(), s(&session.full_name));
    put_opt(&mut item, "avatar", session.avatar.as_deref());
    put_opt(&mut item, "userAgent", session.user_agent.as_deref());
    put_opt(&mut item, "deviceId", session.device_id.as_deref());
    put_opt(&mut item, "remoteAddress", session.remote_address.as_deref());
    item.insert("connectionId".into(), s(&session.connection_id));
    item.insert("onlineDate".into(), n(session.online_date.millis()));
    item.insert("lastSeenDate".into(), n(session.last_seen_date.millis()));
    match (session.offline_date, session.offline_reason) {
        (Some(offline), reason) => {
            item.insert("offlineDate".into(), n(offline.millis()));
            put_opt(&mut item, "offlineReason", reason.map(OfflineReason::as_str));
            item.insert("endedShard".into(), s(shard_of(session.id)));
        }
        (None, _) => {
            item.insert("onlineTenant".into(), n(session.tenant_id.get()));
            item.insert("onlineUser".into(), n(session.user_id.get()));
            item.insert("onlineShard".into(), s(shard_of(session.id)));
        }
    }
    item
}

fn connection_item(session: &Session) -> Item {
    let mut item = connection_key(&session.connection_id);
    item.insert("tenantId".into(), n(session.tenant_id.get()));
    item.insert("sessionId".into(), s(session.id.to_string()));
    item.insert(
        SESSIONS_TTL_ATTRIBUTE.into(),
        n(session.online_date.secs() + CONNECTION_TTL_SECS),
    );
    item
}

/// What a connection item says of its session.
enum SessionOf {
    /// No connection item.
    Unknown,
    /// A tombstone: closed before any session.
    None,
    Key(TenantId, SessionId),
}

/// What the store knows of a connection id.
enum Connection {
    /// Never seen.
    Unknown,
    /// Seen closed before any session (a tombstone), or its session is gone.
    Closed,
    /// The session it carries (or carried), with its token.
    Of(Box<BoundSession>),
}

fn token_item(token: &TokenRecord) -> Item {
    let mut item = HashMap::from([
        ("tokenHash".to_owned(), s(token.hash.as_str())),
        ("userId".to_owned(), n(token.user_id.get())),
        ("tenantId".to_owned(), n(token.tenant_id.get())),
        ("fullName".to_owned(), s(&token.full_name)),
        (
            "permissions".to_owned(),
            AttributeValue::L(token.permissions.iter().map(s).collect()),
        ),
        ("platform".to_owned(), AttributeValue::Bool(token.platform)),
    ]);
    put_opt(&mut item, "avatar", token.avatar.as_deref());
    if let Some(expires) = token.expires_at {
        item.insert("expiresAt".into(), n(expires.millis()));
        item.insert(
            "expiryShard".into(),
            s((u32::from(token.hash.as_str().as_bytes()[0]) % SHARDS).to_string()),
        );
        item.insert(super::schema::TOKENS_TTL_ATTRIBUTE.into(), n(expires.secs()));
    }
    if let Some(revoked) = token.revoked_at {
        item.insert("revokedAt".into(), n(revoked.millis()));
    }
    item
}

fn corrupt(name: &str) -> StoreError {
    StoreError::Failure(format!("stored item has a missing or malformed `{name}`"))
}

fn read_s(item: &Item, name: &str) -> Result<String, StoreError> {
    opt_s(item, name)?.ok_or_else(|| corrupt(name))
}

fn opt_s(item: &Item, name: &str) -> Result<Option<String>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
        Some(_) => Err(corrupt(name)),
    }
}

fn read_n(item: &Item, name: &str) -> Result<i64, StoreError> {
    opt_n(item, name)?.ok_or_else(|| corrupt(name))
}

fn opt_n(item: &Item, name: &str) -> Result<Option<i64>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|_| corrupt(name)),
        Some(_) => Err(corrupt(name)),
    }
}

fn read_session_id(item: &Item, name: &str) -> Result<SessionId, StoreError> {
    read_s(item, name)?.parse().map_err(|_| corrupt(name))
}

fn session_from(item: &Item) -> Result<Session, StoreError> {
    Ok(Session {
        id: read_session_id(item, "id")?,
        tenant_id: TenantId(read_n(item, "tenantId")?),
        user_id: UserId(read_n(item, "userId")?),
        full_name: read_s(item, "fullName")?,
        avatar: opt_s(item, "avatar")?,
        user_agent: opt_s(item, "userAgent")?,
        device_id: opt_s(item, "deviceId")?,
        remote_address: opt_s(item, "remoteAddress")?,
        connection_id: read_s(item, "connectionId")?,
        online_date: Timestamp::from_millis(read_n(item, "onlineDate")?),
        offline_date: opt_n(item, "offlineDate")?.map(Timestamp::from_millis),
        last_seen_date: Timestamp::from_millis(read_n(item, "lastSeenDate")?),
        offline_reason: match opt_s(item, "offlineReason")? {
            None => None,
            Some(text) => Some(OfflineReason::parse(&text).ok_or_else(|| corrupt("offlineReason"))?),
        },
    })
}

fn bound_session_from(item: &Item) -> Result<BoundSession, StoreError> {
    Ok(BoundSession {
        session: session_from(item)?,
        token: opt_s(item, "tokenHash")?.map(TokenHash::from_stored),
    })
}

fn token_from(item: &Item) -> Result<TokenRecord, StoreError> {
    let permissions = match item.get("permissions") {
        None => BTreeSet::new(),
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| v.as_s().cloned().map_err(|_| corrupt("permissions")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(corrupt("permissions")),
    };
    Ok(TokenRecord {
        hash: TokenHash::from_stored(read_s(item, "tokenHash")?),
        user_id: UserId(read_n(item, "userId")?),
        tenant_id: TenantId(read_n(item, "tenantId")?),
        full_name: read_s(item, "fullName")?,
        avatar: opt_s(item, "avatar")?,
        permissions,
        platform: matches!(item.get("platform"), Some(AttributeValue::Bool(true))),
        expires_at: opt_n(item, "expiresAt")?.map(Timestamp::from_millis),
        revoked_at: opt_n(item, "revokedAt")?.map(Timestamp::from_millis),
    })
}

/// A tenant's counts from its counter shards. One shard may hold a negative count (a session
/// counted in on one shard and out on another); the sum never is.
fn counts_from<'a>(shards: impl IntoIterator<Item = &'a Item>) -> Result<SessionCounts, StoreError> {
    let (mut sessions, mut online) = (0i64, 0i64);
    for item in shards {
        sessions += opt_n(item, "sessions")?.unwrap_or(0);
        online += opt_n(item, "online")?.unwrap_or(0);
    }
    Ok(SessionCounts {
        sessions: sessions.max(0) as u64,
        online: online.max(0) as u64,
    })
}
