//! The `online-events` function's handler (`message_center::lambda::stream::handle_batch`) fed
//! with REAL stream records: sessions made on a fresh DynamoDB store on moto, the sessions table's
//! stream read back with GetRecords as raw JSON (moto's exact record JSON, shaped as Lambda's
//! event: `{"Records": [...]}` with `eventSourceARN` added, which Lambda adds and GetRecords does
//! not carry), deserialized as lambda_runtime deserializes the event.
//!
//! moto writes `ApproximateCreationDateTime` as epoch seconds with a fraction (a JSON number, e.g.
//! `1795860000.123`); Lambda sends whole epoch seconds. aws_lambda_events reads both.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event;
use message_center::domain::access::{Permission, TenantScope};
use message_center::domain::events::PresenceEvent;
use message_center::domain::{TenantId, Timestamp};
use message_center::gateway::{ConnectionGateway, Delivery, EventBus, GatewayError, NoEventBus};
use message_center::lambda::stream::handle_batch;
use message_center::service::presence::{self, ConnectRequest, Heartbeat};
use message_center::service::App;
use message_center::store::{DynamoStore, SubscriptionStore, TokenStore};
use message_center_tests::fixtures::token;
use message_center_tests::gateway::RecordingGateway;
use message_center_tests::presence::moto_ok;
use serde_json::{json, Value};

/// The sessions table's stream, read from where it is now.
struct Stream {
    arn: String,
    iterator: String,
}

impl Stream {
    async fn open(store: &DynamoStore) -> Stream {
        let described = store
            .client()
            .describe_table()
            .table_name(&store.tables().sessions)
            .send()
            .await
            .unwrap();
        let arn = described
            .table
            .unwrap()
            .latest_stream_arn
            .expect("the sessions table has a stream");
        let stream = moto_ok(
            "dynamodb",
            "DynamoDBStreams_20120810.DescribeStream",
            json!({"StreamArn": arn}),
        )
        .await;
        let shards = stream["StreamDescription"]["Shards"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(shards.len(), 1, "moto keeps one shard a table: {stream}");
        let iterator = moto_ok(
            "dynamodb",
            "DynamoDBStreams_20120810.GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shards[0]["ShardId"], "ShardIteratorType": "LATEST"}),
        )
        .await["ShardIterator"]
            .as_str()
            .unwrap()
            .to_owned();
        Stream { arn, iterator }
    }

    /// The records written since the last read, as moto's JSON, each with `eventSourceARN`.
    async fn records(&mut self) -> Vec<Value> {
        let page = moto_ok(
            "dynamodb",
            "DynamoDBStreams_20120810.GetRecords",
            json!({"ShardIterator": self.iterator}),
        )
        .await;
        self.iterator = page["NextShardIterator"].as_str().unwrap().to_owned();
        page["Records"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut record| {
                record["eventSourceARN"] = json!(self.arn);
                record
            })
            .collect()
    }
}

/// The Lambda event of `records`, deserialized as the runtime does.
fn event_of(records: &[Value]) -> Event {
    let json = json!({ "Records": records });
    serde_json::from_value(json.clone())
        .unwrap_or_else(|e| panic!("moto's records are a DynamoDB event: {e}\n{json:#}"))
}

fn sequence_number(record: &Value) -> String {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap().to_owned()
}

/// Whether a record is a session item's (`T#` / `S#`).
fn is_session(record: &Value) -> bool {
    let keys = &record["dynamodb"]["Keys"];
    keys["pk"]["S"].as_str().is_some_and(|pk| pk.starts_with("T#"))
        && keys["sk"]["S"].as_str().is_some_and(|sk| sk.starts_with("S#"))
}

/// A connect on `connection` with `secret`, as `$connect` makes it.
async fn connect(app: &App, secret: &str, connection: &str) {
    let request = ConnectRequest {
        connection_id: Some(connection.to_owned()),
        device_id: Some(format!("device-{connection}")),
        user_agent: Some("StreamTest/1.0".into()),
        remote_address: Some("198.51.100.7".into()),
    };
    presence::connect(app, secret, request, Timestamp::now()).await.unwrap();
}

/// A fresh store on moto with tokens for tenants 1 and 2: watchers (list permission) and users.
async fn fresh() -> DynamoStore {
    let store = message_center_tests::dynamodb::fresh_store().await;
    for (secret, tenant, user, permissions) in [
        ("stream-watch-1", 1, 100, &[Permission::List][..]),
        ("stream-watch-2", 2, 200, &[Permission::List][..]),
        ("stream-user-1", 1, 101, &[][..]),
        ("stream-user-2a", 2, 201, &[][..]),
        ("stream-user-2b", 2, 202, &[][..]),
    ] {
        store
            .put_token(&token(secret, tenant, user, permissions, false))
            .await
            .unwrap();
    }
    store
}

fn app_on(store: &DynamoStore, gateway: Arc<dyn ConnectionGateway>) -> App {
    App {
        store: Arc::new(store.clone()),
        gateway,
        config: Default::default(),
    }
}

/// Connect, heartbeat, a non-session write, disconnect: the stream's records through the handler
/// push `ONLINE` then `OFFLINE` to the subscriber; the heartbeat and the other items push
/// nothing; nothing fails.
#[tokio::test]
async fn real_stream_records_become_presence_messages() {
    let store = fresh().await;
    let gateway = Arc::new(RecordingGateway::with_live(["watch-1".to_owned(), "user-1".to_owned()]));
    let app = app_on(&store, gateway.clone());
    connect(&app, "stream-watch-1", "watch-1").await;
    store
        .subscribe("watch-1", TenantScope::Tenant(TenantId(1)), Timestamp::now())
        .await
        .unwrap();
    let mut stream = Stream::open(&store).await;

    connect(&app, "stream-user-1", "user-1").await;
    assert_eq!(
        presence::heartbeat(&app, "user-1", Timestamp::now().plus_secs(1))
            .await
            .unwrap(),
        Heartbeat::Acknowledged
    );
    // Not sessions: the subscription written again (its connection's mark, its item).
    store
        .subscribe("watch-1", TenantScope::Tenant(TenantId(1)), Timestamp::now())
        .await
        .unwrap();
    assert!(presence::disconnect(&app, "user-1", Timestamp::now().plus_secs(2))
        .await
        .unwrap());

    let records = stream.records().await;
    let sessions: Vec<&Value> = records.iter().filter(|r| is_session(r)).collect();
    let names: Vec<&str> = sessions.iter().map(|r| r["eventName"].as_str().unwrap()).collect();
    assert_eq!(names, ["INSERT", "MODIFY", "MODIFY"], "connect, heartbeat, end");
    assert!(
        records.len() > sessions.len(),
        "other items are in the stream too: {}",
        records.len()
    );
    let event = event_of(&records);
    assert_eq!(event.records.len(), records.len());
    let first = &event.records[0];
    assert_eq!(first.event_source.as_deref(), Some("aws:dynamodb"));
    assert!(first
        .event_source_arn
        .as_deref()
        .is_some_and(|arn| arn.contains("/stream/")));
    eprintln!(
        "moto's ApproximateCreationDateTime: {} (read as {})",
        records[0]["dynamodb"]["ApproximateCreationDateTime"], first.change.approximate_creation_date_time
    );

    let (response, published) = handle_batch(&app, &NoEventBus, event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        (published.events, published.pushed, published.gone),
        (2, 2, 0),
        "{published:?}"
    );
    let sent = gateway.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let messages: Vec<Value> = sent
        .iter()
        .map(|(connection, text)| {
            assert_eq!(connection, "watch-1");
            serde_json::from_str(text).unwrap()
        })
        .collect();
    assert_eq!(
        (messages[0]["type"].as_str(), messages[0]["event"].as_str()),
        (Some("PRESENCE"), Some("ONLINE"))
    );
    assert_eq!(
        (messages[1]["type"].as_str(), messages[1]["event"].as_str()),
        (Some("PRESENCE"), Some("OFFLINE"))
    );
    for message in &messages {
        assert_eq!(message["session"]["userId"], "101");
        assert_eq!(message["session"]["tenantId"], "1");
        assert_eq!(message["session"]["deviceId"], "device-user-1");
    }
    assert_eq!(messages[1]["session"]["offlineReason"], "DISCONNECTED");
    assert_eq!(messages[0]["session"]["id"], messages[1]["session"]["id"]);

    // The heartbeat and the non-session records alone: nothing to do.
    let quiet: Vec<Value> = records
        .iter()
        .filter(|r| !is_session(r) || r["eventName"] == "MODIFY" && r["dynamodb"]["NewImage"]["offlineDate"].is_null())
        .cloned()
        .collect();
    assert!(!quiet.is_empty());
    let (response, published) = handle_batch(&app, &NoEventBus, event_of(&quiet)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(published.events, 0, "{published:?}");
    assert_eq!(gateway.sent().len(), 2, "nothing more pushed");
}

/// A gateway that fails (not gone) every push to `broken` of an event of user `user`.
struct Flaky {
    inner: RecordingGateway,
    broken: &'static str,
    user: &'static str,
}

#[async_trait]
impl ConnectionGateway for Flaky {
    async fn send(&self, connection_id: &str, message: &str) -> Result<Delivery, GatewayError> {
        let about: Value = serde_json::from_str(message).unwrap_or_default();
        if connection_id == self.broken && about["session"]["userId"] == self.user {
            return Err(GatewayError("throttled (a test's fault)".into()));
        }
        self.inner.send(connection_id, message).await
    }

    async fn close(&self, connection_id: &str) -> Result<Delivery, GatewayError> {
        self.inner.close(connection_id).await
    }
}

/// A bus that refuses the `OFFLINE` event of user `user`.
struct Refusing {
    user: &'static str,
}

#[async_trait]
impl EventBus for Refusing {
    async fn put(&self, events: &[PresenceEvent]) -> Vec<Result<(), GatewayError>> {
        events
            .iter()
            .map(|event| {
                let detail: Value = serde_json::from_str(&event.detail_json()).unwrap();
                if detail["userId"] == self.user && detail["online"] == false {
                    Err(GatewayError(
                        "PutEvents entry: ThrottlingException (a test's fault)".into(),
                    ))
                } else {
                    Ok(())
                }
            })
            .collect()
    }
}

/// One failing delivery fails exactly its record (and, for a push, the same session's later
/// records to that connection); the others are not reported; a gone subscriber is dropped
/// without a failure.
#[tokio::test]
async fn a_failed_delivery_reports_exactly_its_records() {
    let store = fresh().await;
    let live = ["watch-1", "watch-2", "broken", "gone", "user-1", "user-2a", "user-2b"].map(str::to_owned);
    let recording = Arc::new(RecordingGateway::with_live(live.clone()));
    let setup = app_on(&store, recording.clone());
    for (secret, connection, tenant) in [
        ("stream-watch-1", "watch-1", 1),
        ("stream-watch-2", "watch-2", 2),
        ("stream-watch-2", "broken", 2),
        ("stream-watch-2", "gone", 2),
    ] {
        connect(&setup, secret, connection).await;
        store
            .subscribe(connection, TenantScope::Tenant(TenantId(tenant)), Timestamp::now())
            .await
            .unwrap();
    }
    let mut stream = Stream::open(&store).await;
    for (secret, connection) in [
        ("stream-user-1", "user-1"),
        ("stream-user-2a", "user-2a"),
        ("stream-user-2b", "user-2b"),
    ] {
        connect(&setup, secret, connection).await;
    }
    for connection in ["user-2b", "user-2a", "user-1"] {
        assert!(presence::disconnect(&setup, connection, Timestamp::now())
            .await
            .unwrap());
    }
    let records = stream.records().await;
    let of_user = |user: i64, name: &str| -> String {
        let record = records
            .iter()
            .find(|r| {
                is_session(r)
                    && r["eventName"] == name
                    && r["dynamodb"]["NewImage"]["userId"]["N"].as_str() == Some(user.to_string().as_str())
            })
            .unwrap_or_else(|| panic!("a {name} of user {user}"));
        sequence_number(record)
    };

    // The push of user 202's events to `broken` fails; `gone` is gone.
    let flaky = Arc::new(Flaky {
        inner: RecordingGateway::with_live(live.iter().filter(|c| *c != "gone").cloned()),
        broken: "broken",
        user: "202",
    });
    let app = app_on(&store, flaky.clone());
    let (response, published) = handle_batch(&app, &NoEventBus, event_of(&records)).await;
    let failed: BTreeSet<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        failed,
        BTreeSet::from([of_user(202, "INSERT"), of_user(202, "MODIFY")]),
        "the failed push and the same session's later record to that connection: {published:?}"
    );
    assert_eq!(published.events, 6);
    assert_eq!(published.gone, 1, "{published:?}");
    let subscribers = store.subscribers(TenantId(2)).await.unwrap();
    assert!(
        !subscribers.contains(&"gone".to_owned()),
        "the gone connection's subscription is dropped"
    );
    assert_eq!(subscribers.len(), 2, "{subscribers:?}");
    let sent = flaky.inner.sent();
    let to = |connection: &str| -> Vec<(String, String)> {
        sent.iter()
            .filter(|(c, _)| c == connection)
            .map(|(_, text)| {
                let message: Value = serde_json::from_str(text).unwrap();
                (
                    message["session"]["userId"].as_str().unwrap().to_owned(),
                    message["event"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        to("watch-1"),
        [("101".into(), "ONLINE".into()), ("101".into(), "OFFLINE".into())]
    );
    let mut watch_2 = to("watch-2");
    watch_2.sort();
    assert_eq!(watch_2.len(), 4, "{watch_2:?}");
    assert_eq!(
        to("broken"),
        [("201".into(), "ONLINE".into()), ("201".into(), "OFFLINE".into())]
    );

    // The bus refuses user 201's OFFLINE: that record alone.
    let app = app_on(&store, Arc::new(RecordingGateway::with_live(live.clone())));
    let (response, published) = handle_batch(&app, &Refusing { user: "201" }, event_of(&records)).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect();
    assert_eq!(failed, [of_user(201, "MODIFY")], "{published:?}");
    assert_eq!(published.bused, 5);
}

/// The fixture `events/online-events.json` (for `sam local invoke`) is a DynamoDB stream event the
/// handler reads: its session records become events for a subscriber of their tenant.
#[tokio::test]
async fn the_fixture_is_a_stream_event_the_handler_reads() {
    let path = message_center_tests::events::events_dir().join("online-events.json");
    let text = std::fs::read_to_string(&path).expect("events/online-events.json");
    let event: Event = serde_json::from_str(&text).expect("a DynamoDB stream event");
    assert!(!event.records.is_empty());
    for record in &event.records {
        assert!(
            record.change.sequence_number.is_some(),
            "every record has a sequence number"
        );
        assert!(record
            .event_source_arn
            .as_deref()
            .is_some_and(|arn| arn.contains("/stream/")));
    }
    let json: Value = serde_json::from_str(&text).unwrap();
    let tenants: BTreeSet<String> = json["Records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["dynamodb"]["Keys"]["pk"]["S"].as_str())
        .filter_map(|pk| pk.strip_prefix("T#").map(str::to_owned))
        .collect();
    let store = message_center::store::MemoryStore::new();
    let mut live = Vec::new();
    for tenant in &tenants {
        let connection = format!("watch-{tenant}");
        store
            .subscribe(
                &connection,
                TenantScope::Tenant(TenantId(tenant.parse().unwrap())),
                Timestamp::now(),
            )
            .await
            .unwrap();
        live.push(connection);
    }
    let gateway = Arc::new(RecordingGateway::with_live(live));
    let app = App {
        store: Arc::new(store),
        gateway: gateway.clone(),
        config: Default::default(),
    };
    let (response, published) = handle_batch(&app, &NoEventBus, event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert!(published.events > 0, "{published:?}");
    assert_eq!(gateway.sent().len(), published.pushed);
    for (_, text) in gateway.sent() {
        let message: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(message["type"], "PRESENCE", "{message}");
    }
}
