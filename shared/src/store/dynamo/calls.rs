//! The calls every read and write is made of, and what they share: usage accounting, retries of
//! transaction conflicts and throttling (which the SDK does not retry), idempotent transactions
//! ([`Write`]), and how an SDK error becomes a [`StoreError`].

use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, PutRequest, TransactWriteItem, WriteRequest,
};
use futures::{StreamExt, TryStreamExt};

use super::{DynamoStore, Item};
use crate::domain::budget::Budget;
use crate::domain::error::StoreError;
use crate::domain::TenantId;

/// Items one BatchWriteItem takes at most.
pub(super) const BATCH_WRITE_ITEMS: usize = 25;
/// Items in one TransactWriteItems call (DynamoDB allows 100 actions; one is the counter).
pub(super) const TRANSACTION_ITEMS: usize = 99;
/// Transactions of one batch in flight at once (their counter changes go to shards drawn at
/// random, so they seldom meet on one).
pub(super) const TRANSACTION_CONCURRENCY: usize = 4;
/// Keys one BatchGetItem takes at most.
pub(super) const BATCH_GET_KEYS: usize = 100;
/// Attempts at a transaction (or a single write) that meets a transaction conflict or throttling
/// before the store answers [`StoreError::Unavailable`]: with the backoff below, about two seconds.
pub(super) const CONFLICT_ATTEMPTS: u32 = 10;
/// Cancellation reasons and error codes after which a write is tried again.
pub(super) const CONFLICT_CODES: [&str; 2] = ["TransactionConflict", "TransactionConflictException"];
/// Error codes that mean "throttled": retried by the SDK, then answered as 503.
pub(super) const THROTTLE_CODES: [&str; 4] = [
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
pub(super) struct Write {
    pub(super) action: TransactWriteItem,
    /// Attribute values the item holds once this write has landed, and that no other write leaves:
    /// the new session's id, or the [`write_mark`] an end or a revocation stores beside its time.
    /// Empty for a write that leaves nothing to recognise (a delete, a counter change).
    pub(super) landed: Vec<(&'static str, AttributeValue)>,
    /// For a counter change, the change itself: a retry draws another shard for it.
    pub(super) counter: Option<CounterChange>,
}

/// A change to one tenant's session counts.
#[derive(Debug, Clone, Copy)]
pub(super) struct CounterChange {
    pub(super) tenant: TenantId,
    pub(super) sessions: i64,
    pub(super) online: i64,
}

/// What a transaction came to.
pub(super) enum Transacted {
    Written,
    /// A condition failed; nothing was written. The reasons line up with the writes.
    Refused(Vec<CancellationReason>),
}

impl Write {
    pub(super) fn plain(action: TransactWriteItem) -> Self {
        Write {
            action,
            landed: Vec::new(),
            counter: None,
        }
    }

    /// Whether `reason` (this write's in a cancelled transaction) is a failed condition on an item
    /// that already holds this write's marks.
    pub(super) fn landed_before(&self, reason: &CancellationReason) -> bool {
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
pub(super) fn write_mark() -> String {
    ulid::Ulid::new().to_string()
}

impl DynamoStore {
    /// One page of a query.
    pub(super) async fn query_page(&self, query: QueryFluentBuilder) -> Result<QueryOutput, StoreError> {
        let page = query.send().await.map_err(|e| sdk_error("Query", e))?;
        self.usage.read(page.scanned_count.max(0) as usize);
        Ok(page)
    }

    /// Every item a query yields, across pages.
    pub(super) async fn query_all(&self, query: QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
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

    pub(super) fn query_sessions(&self) -> QueryFluentBuilder {
        self.client.query().table_name(&self.tables.sessions)
    }

    pub(super) fn query_tokens(&self) -> QueryFluentBuilder {
        self.client.query().table_name(&self.tables.tokens)
    }

    pub(super) async fn get(&self, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
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

    /// Items by key, read consistently, in BatchGetItem calls of up to 100 keys (keys DynamoDB
    /// leaves unprocessed are asked again); items that do not exist are not returned.
    pub(super) async fn batch_get(&self, table: &str, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
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

    /// Puts these items (unconditionally) in BatchWriteItem calls of 25, retrying what DynamoDB
    /// leaves unprocessed: for items no one else writes at the same time (seeding, the name index).
    pub(super) async fn batch_put(&self, table: &str, items: Vec<Item>) -> Result<(), StoreError> {
        for chunk in items.chunks(BATCH_WRITE_ITEMS) {
            let mut pending = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map_err(build_error)?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            while !pending.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(table, pending.clone())
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchWriteItem", e))?;
                self.usage.wrote(pending.len());
                pending = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Ok(())
    }

    /// Runs a transaction; `Ok(false)` when a condition failed (nothing was written), `Ok(true)`
    /// when it was written, by this attempt or by an earlier one whose answer was lost ([`Write`]).
    pub(super) async fn transact(&self, writes: Vec<Write>) -> Result<bool, StoreError> {
        Ok(matches!(self.transact_detailed(writes).await?, Transacted::Written))
    }

    /// Runs a transaction and says why it was refused, when it was. A transaction conflict or
    /// throttling (neither retried by the SDK) is tried again after a jittered backoff, each
    /// counter change on a newly drawn shard, up to [`CONFLICT_ATTEMPTS`] times; past that the
    /// store is [`StoreError::Unavailable`].
    pub(super) async fn transact_detailed(&self, mut writes: Vec<Write>) -> Result<Transacted, StoreError> {
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
    pub(super) async fn apply_each(
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
}

/// A failed call as the store reports it: throttling, a 5xx, a timeout or a connection that failed
/// (each retried by the SDK first) is [`StoreError::Unavailable`], which callers see as a 503 to
/// retry; anything else is a [`StoreError::Failure`].
pub(super) fn sdk_error<E>(operation: &str, error: SdkError<E>) -> StoreError
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

pub(super) fn build_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Failure(format!("request did not build: {error}"))
}

/// A random number below `bound` (shards, jitter): from the random bits of a fresh ULID.
pub(super) fn random_below(bound: u64) -> u64 {
    (ulid::Ulid::new().random() % u128::from(bound.max(1))) as u64
}

/// Waits before retry `attempt` (1, 2, ...): exponential from 20 ms, capped at 400 ms, with
/// full jitter in its upper half so that the writers that met do not meet again.
pub(super) async fn backoff(attempt: u32) {
    let cap = (10u64 << attempt.min(6)).min(400);
    let wait = cap / 2 + random_below(cap / 2 + 1);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// Sends a single-item write again while it meets a transaction that holds its item
/// (`TransactionConflictException`, which the SDK does not retry), [`CONFLICT_ATTEMPTS`] times at
/// most; the last error is returned as it came.
pub(super) async fn retry_conflicts<T, E, F, Fut>(send: F) -> Result<T, SdkError<E>>
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
