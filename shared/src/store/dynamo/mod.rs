//! The DynamoDB store. Key design and access patterns are in the [module docs](super); the files
//! here turn them into calls: [`codec`] (items and keys), [`calls`] (the calls themselves, with
//! usage, retries and errors), [`reads`] and [`writes`] (what the trait implementations are made
//! of), one file per store trait ([`tokens`], [`sessions`], [`offline`], [`cleanup`]), [`seed`]
//! (bulk loading) and [`schema`] (the tables). Caller input reaches DynamoDB only as expression
//! attribute values; attribute names are [`schema::attr`]'s constants.

mod audit;
mod calls;
mod cleanup;
mod codec;
mod listing;
mod names;
mod offline;
mod reads;
mod seed;
mod sessions;
pub mod stream;
mod subscriptions;
mod tokens;
mod writes;

pub mod schema;

pub use seed::seed_items;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::{Store, UsageSnapshot};
use schema::TableNames;

type Item = HashMap<String, AttributeValue>;

/// Requests one operation keeps in flight at once (per-user queries of a forced offline).
const CONCURRENCY: usize = 16;
/// Per-user lookups one operation keeps in flight at once: a listing's `userId IN` (at most 100
/// values) or a forced offline's users, each in about one round trip of latency.
const USER_CONCURRENCY: usize = 100;
/// Items one listing query asks for at most.
const QUERY_PAGE_ITEMS: usize = 1000;
/// Shards of the sparse cleanup indexes, so no index partition takes every write.
const SHARDS: u32 = 4;
/// Shards of each tenant's counters: every session start and end changes one, drawn at random,
/// so a burst of connects into one tenant does not queue on one item (each transaction holding it
/// cancels the others with `TransactionConflict`) nor on one partition key's write rate.
const COUNTER_SHARDS: u32 = 32;

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
    /// retries throttling with backoff) on `tables`, at `endpoint` instead of AWS's when given (a
    /// local DynamoDB-protocol server). No network call: the client connects on its first request.
    pub fn from_config(config: &aws_config::SdkConfig, tables: TableNames, endpoint: Option<String>) -> Self {
        let mut builder = aws_sdk_dynamodb::config::Builder::from(config);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        DynamoStore::new(Client::from_conf(builder.build()), tables)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }
}

impl Store for DynamoStore {
    /// What this store (and its clones) asked of DynamoDB so far.
    fn usage(&self) -> UsageSnapshot {
        UsageSnapshot {
            calls: self.usage.calls.load(Relaxed),
            items_read: self.usage.items_read.load(Relaxed),
            items_written: self.usage.items_written.load(Relaxed),
        }
    }
}
