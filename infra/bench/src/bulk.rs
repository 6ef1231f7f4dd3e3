//! A fast bulk import for the large `list-cost` tenants: the very items the store's own import
//! writes ([`seed_items`]: sessions, connections, the name index), put in bulk, then the tenant's
//! counters; the store's `import_sessions` (BatchWriteItem of 25 through the strict proxy, one
//! request after another) writes some 2,000 items a second into moto, and 1,000,000 sessions are
//! 2,000,000 items.
//!
//! - moto: `POST /bench/import` of `infra/scripts/moto_server.py` (JSON lines of DynamoDB JSON,
//!   put straight into moto's backend; the strict proxy forwards it untouched).
//! - dynalite: BatchWriteItem of 25 straight to the server, [`BATCHES_IN_FLIGHT`] at once.
//!
//! Sessions are made and written a slice at a time (memory for one slice of items, not 3 GB of
//! them); the name index's items of a (tenant, user, name) are written once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::StreamExt;
use message_center::domain::Session;
use message_center::store::dynamo::schema::attr;
use message_center::store::dynamo::seed_items;
use message_center::store::DynamoStore;

use crate::servers::Server;

type Item = HashMap<String, AttributeValue>;

/// Sessions made and written at a time.
const SLICE: usize = 20_000;
/// BatchWriteItem requests in flight at once (dynalite).
const BATCHES_IN_FLIGHT: usize = 8;
/// Items per `POST /bench/import` (moto).
const LINES_PER_POST: usize = 5_000;

/// What an import wrote, and how long it took.
pub struct Imported {
    pub sessions: usize,
    pub items: usize,
    pub seconds: f64,
}

/// Writes a tenant of `total` sessions: `filler(from..to)` makes the sessions `from` to `to` of
/// it, in bulk; then `probes` (which count towards `total`) through the store's own import,
/// which also adds them to the counters. Every session must be of one tenant.
pub async fn import_tenant(
    store: &DynamoStore,
    server: Server,
    total: usize,
    filler: impl Fn(std::ops::Range<usize>) -> Vec<Session>,
    probes: &[Session],
) -> Imported {
    let started = Instant::now();
    let fillers = total - probes.len();
    let mut names_written: HashSet<(String, String)> = HashSet::new();
    let (mut items, mut online, mut tenant) = (0, 0, None);
    let mut from = 0;
    while from < fillers {
        let to = (from + SLICE).min(fillers);
        let sessions = filler(from..to);
        online += sessions.iter().filter(|s| s.online()).count();
        tenant = tenant.or(sessions.first().map(|s| s.tenant_id));
        let slice: Vec<Item> = seed_items(&sessions)
            .into_iter()
            .filter(|item| {
                let key = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                let pk = key(attr::PK);
                // The name index's items: once per (tenant, user, name), whatever the slices.
                !(pk.starts_with("G#") || pk.starts_with("N#")) || names_written.insert((pk, key(attr::SK)))
            })
            .collect();
        items += slice.len();
        put_items(store, server, slice).await;
        from = to;
    }
    if let Some(tenant) = tenant {
        // The counters of the bulk part, as one shard (the store sums its shards).
        let counter = HashMap::from([
            (attr::PK.to_owned(), AttributeValue::S("COUNT#0".into())),
            (attr::SK.to_owned(), AttributeValue::S(format!("T#{tenant}"))),
            (attr::TENANT_ID.to_owned(), AttributeValue::N(tenant.to_string())),
            (attr::SESSIONS.to_owned(), AttributeValue::N(fillers.to_string())),
            (attr::ONLINE.to_owned(), AttributeValue::N(online.to_string())),
        ]);
        put_items(store, server, vec![counter]).await;
        items += 1;
    }
    store
        .import_sessions(probes)
        .await
        .expect("the probe sessions are imported");
    items += seed_items(probes).len() + 1;
    Imported {
        sessions: total,
        items,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Puts `items` into the sessions table, in bulk.
async fn put_items(store: &DynamoStore, server: Server, items: Vec<Item>) {
    let table = store.tables().sessions.clone();
    match server {
        Server::Dynalite => {
            futures::stream::iter(items.chunks(25))
                .for_each_concurrent(BATCHES_IN_FLIGHT, |chunk| {
                    let table = table.clone();
                    async move {
                        let mut pending: Vec<WriteRequest> = chunk
                            .iter()
                            .map(|item| {
                                let put = PutRequest::builder()
                                    .set_item(Some(item.clone()))
                                    .build()
                                    .expect("a put");
                                WriteRequest::builder().put_request(put).build()
                            })
                            .collect();
                        while !pending.is_empty() {
                            let answer = store
                                .client()
                                .batch_write_item()
                                .request_items(&table, pending)
                                .send()
                                .await
                                .expect("a batch is written");
                            pending = answer
                                .unprocessed_items
                                .and_then(|mut left| left.remove(&table))
                                .unwrap_or_default();
                        }
                    }
                })
                .await;
        }
        Server::Moto => {
            let endpoint = message_center_tests::dynamodb::endpoint().to_owned();
            let bodies: Vec<String> = items
                .chunks(LINES_PER_POST)
                .map(|chunk| {
                    chunk
                        .iter()
                        .map(|item| {
                            let line = serde_json::json!({"table": table, "item": dynamodb_json(item)});
                            format!("{line}\n")
                        })
                        .collect()
                })
                .collect();
            tokio::task::spawn_blocking(move || {
                for body in bodies {
                    post_import(&endpoint, &body);
                }
            })
            .await
            .expect("the import thread");
        }
    }
}

/// One `POST /bench/import`; panics unless every line was imported.
fn post_import(endpoint: &str, body: &str) {
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).expect("the DynamoDB endpoint answers");
    write!(
        stream,
        "POST /bench/import HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("an import request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("the import's answer");
    let lines = body.lines().count();
    let json = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    let imported: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    assert!(
        answer.starts_with("HTTP/1.1 200") && imported["imported"] == lines,
        "moto imported {lines} items: {answer}"
    );
}

/// An item in DynamoDB JSON (`{"S": ...}`, `{"N": ...}`, ...), as the wire protocol has it.
fn dynamodb_json(item: &Item) -> serde_json::Value {
    let fields: serde_json::Map<String, serde_json::Value> = item
        .iter()
        .map(|(name, value)| (name.clone(), value_json(value)))
        .collect();
    serde_json::Value::Object(fields)
}

fn value_json(value: &AttributeValue) -> serde_json::Value {
    use serde_json::json;
    match value {
        AttributeValue::S(text) => json!({ "S": text }),
        AttributeValue::N(number) => json!({ "N": number }),
        AttributeValue::Bool(flag) => json!({ "BOOL": flag }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(texts) => json!({ "SS": texts }),
        AttributeValue::Ns(numbers) => json!({ "NS": numbers }),
        AttributeValue::L(values) => json!({ "L": values.iter().map(value_json).collect::<Vec<_>>() }),
        AttributeValue::M(fields) => {
            let fields: BTreeMap<&String, serde_json::Value> = fields.iter().map(|(k, v)| (k, value_json(v))).collect();
            json!({ "M": fields })
        }
        other => panic!("the bench's import has no DynamoDB JSON for {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_become_dynamodb_json() {
        let item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("T#1".into())),
            ("n".to_owned(), AttributeValue::N("7".into())),
            ("ok".to_owned(), AttributeValue::Bool(true)),
            ("tags".to_owned(), AttributeValue::Ss(vec!["a".into()])),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([("x".to_owned(), AttributeValue::Null(true))])),
            ),
        ]);
        assert_eq!(
            dynamodb_json(&item),
            serde_json::json!({"pk": {"S": "T#1"}, "n": {"N": "7"}, "ok": {"BOOL": true},
                "tags": {"SS": ["a"]}, "m": {"M": {"x": {"NULL": true}}}})
        );
    }
}
