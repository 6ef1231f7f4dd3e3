//! Presence events, locally: the local API delivers them from its store's own record of changes,
//! through the same use case the `online-events` function runs ([`events::publish`]). The memory
//! store reports each session start and end as it writes it ([`MemoryStore::changes`]); on
//! DynamoDB the local API reads the sessions table's stream as Lambda's event source mapping does
//! (every shard from its latest record, polled every 100 ms, records in order), so the path the
//! end-to-end tests take on moto is the AWS one: stream images decoded by the same code, pushed to
//! the same subscriptions, put on the same bus.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use message_center::domain::events::SessionChange;
use message_center::gateway::EventBus;
use message_center::service::events::publish;
use message_center::service::App;
use message_center::store::dynamo::stream::{session_change, Image};
use message_center::store::MemoryStore;
use tokio::sync::broadcast;

/// How often the DynamoDB stream is polled.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// Deliveries of a change before it is given up (logged), as a retry policy would.
const ATTEMPTS: u32 = 3;

/// Where the local API learns of session changes.
pub enum Feed {
    /// Nowhere: no presence events (a server started for tests that do not need them).
    None,
    /// The memory store's broadcast of its writes.
    Memory(broadcast::Receiver<SessionChange>),
    /// The DynamoDB sessions table's stream.
    Stream(StreamReader),
}

impl Feed {
    /// The memory store's changes from now on.
    pub fn of_memory(store: &MemoryStore) -> Feed {
        Feed::Memory(store.changes())
    }
}

/// Delivers every change the feed reports, in order, for as long as the process runs.
pub async fn deliver(app: App, bus: Arc<dyn EventBus>, feed: Feed) {
    match feed {
        Feed::None => {}
        Feed::Memory(mut changes) => loop {
            let first = match changes.recv().await {
                Ok(change) => change,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "presence events missed: the delivery fell behind the store");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let mut batch = vec![first];
            while let Ok(change) = changes.try_recv() {
                batch.push(change);
            }
            deliver_batch(&app, bus.as_ref(), batch).await;
        },
        Feed::Stream(mut reader) => loop {
            match reader.next_batch().await {
                Ok(batch) if batch.is_empty() => tokio::time::sleep(POLL_EVERY).await,
                Ok(batch) => deliver_batch(&app, bus.as_ref(), batch).await,
                Err(error) => {
                    tracing::warn!(%error, "sessions stream not read; trying again");
                    tokio::time::sleep(POLL_EVERY * 10).await;
                }
            }
        },
    }
}

/// Publishes a batch; what failed is tried again (only that, in order), up to [`ATTEMPTS`] times.
async fn deliver_batch(app: &App, bus: &dyn EventBus, mut batch: Vec<SessionChange>) {
    for attempt in 1..=ATTEMPTS {
        let published = publish(app, bus, &batch).await;
        if published.failed.is_empty() {
            return;
        }
        if attempt == ATTEMPTS {
            tracing::error!(
                failed = published.failed.len(),
                "presence events given up after {ATTEMPTS} attempts"
            );
            return;
        }
        batch = published.failed.iter().map(|&index| batch[index].clone()).collect();
        tokio::time::sleep(POLL_EVERY * attempt).await;
    }
}

/// Reads a table's DynamoDB stream as Lambda's event source mapping does: each shard from where
/// the reader started (new shards from their beginning), record after record.
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Per shard, where the next read starts (`None`: the shard is closed and read to its end).
    iterators: HashMap<String, Option<String>>,
    /// Reads since the shards were last listed.
    reads: u32,
}

/// Reads between two listings of the stream's shards (new shards appear as the table grows, and
/// when one closes).
const LIST_SHARDS_EVERY: u32 = 50;

type StreamError = Box<dyn std::error::Error + Send + Sync>;

impl StreamReader {
    /// A reader of `table`'s stream from its latest record, at `endpoint` (a local server serves
    /// DynamoDB and its streams on one endpoint) or AWS's.
    pub async fn open(
        config: &aws_config::SdkConfig,
        dynamodb: &aws_sdk_dynamodb::Client,
        table: &str,
        endpoint: Option<String>,
    ) -> Result<Self, StreamError> {
        let described = dynamodb.describe_table().table_name(table).send().await?;
        let stream_arn = described
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| format!("the table {table} has no stream"))?;
        let mut builder = aws_sdk_dynamodbstreams::config::Builder::from(config);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let mut reader = StreamReader {
            client: aws_sdk_dynamodbstreams::Client::from_conf(builder.build()),
            stream_arn,
            iterators: HashMap::new(),
            reads: 0,
        };
        reader.find_shards(ShardIteratorType::Latest).await?;
        Ok(reader)
    }

    /// Starts reading every shard not known yet, at `start`.
    async fn find_shards(&mut self, start: ShardIteratorType) -> Result<(), StreamError> {
        let stream = self
            .client
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await?;
        let shards = stream.stream_description.and_then(|d| d.shards).unwrap_or_default();
        for shard in shards {
            let Some(id) = shard.shard_id else { continue };
            if self.iterators.contains_key(&id) {
                continue;
            }
            let iterator = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(&id)
                .shard_iterator_type(start.clone())
                .send()
                .await?
                .shard_iterator;
            self.iterators.insert(id, iterator);
        }
        Ok(())
    }

    /// The changes written since the last call (empty when none), shard by shard.
    pub async fn next_batch(&mut self) -> Result<Vec<SessionChange>, StreamError> {
        self.reads += 1;
        if self.reads >= LIST_SHARDS_EVERY || self.iterators.values().any(Option::is_none) {
            self.reads = 0;
            self.find_shards(ShardIteratorType::TrimHorizon).await?;
        }
        let mut changes = Vec::new();
        for iterator in self.iterators.values_mut() {
            let Some(current) = iterator.clone() else { continue };
            let page = self.client.get_records().shard_iterator(current).send().await?;
            *iterator = page.next_shard_iterator;
            for record in page.records.unwrap_or_default() {
                let Some(data) = record.dynamodb else { continue };
                let image = |item: Option<HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
                    item.map(|item| Image::from(serde_dynamo::Item::from(item)))
                };
                let keys = image(data.keys).unwrap_or_default();
                match session_change(&keys, image(data.old_image).as_ref(), image(data.new_image).as_ref()) {
                    Ok(Some(change)) => changes.push(change),
                    Ok(None) => {}
                    Err(error) => tracing::error!(%error, "stream record skipped: not a readable session"),
                }
            }
        }
        Ok(changes)
    }
}
