//! Presence events end to end: the local API started with its delivery of session changes (the
//! memory store's feed, or the DynamoDB sessions table's stream read from moto as Lambda's event
//! source mapping reads it, with an EventBridge bus on moto), WebSocket clients that record every
//! message with its arrival time, and plain calls to moto's other services (DynamoDB Streams,
//! EventBridge, SQS) in their JSON protocols.
//!
//! Every call to moto goes to [`crate::dynamodb::endpoint`], the strict proxy: it forwards any
//! request that is not `DynamoDB_20120810.*` untouched (streams, events, SQS), and moto serves
//! every service on one port, telling them apart by the credential scope of the signature.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use local_api::presence::{Feed, StreamReader};
use local_api::Options;
use message_center::gateway::{EventBridgeBus, EventBus, NoEventBus};
use message_center::service::App;
use message_center::store::{DynamoStore, MemoryStore, Store};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::StoreKind;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The account moto answers as.
pub const MOTO_ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// An SDK configuration for moto: dummy credentials, a fixed region, the service's HTTP client.
pub fn sdk_config() -> aws_config::SdkConfig {
    use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "tests",
        )))
        .http_client(message_center::lambda::aws::http_client())
        .build()
}

/// The local API with presence delivery, on a store of its own.
pub struct PresenceServer {
    pub address: String,
    pub store: Arc<dyn Store>,
    /// The DynamoDB store behind `store` (on DynamoDB only).
    pub dynamo: Option<DynamoStore>,
    /// An app over the same store, for running the cleanup as the scheduled function would.
    pub app: App,
    pub kind: StoreKind,
}

impl PresenceServer {
    /// A fresh store of `kind` served with presence delivery: on memory from the store's feed, on
    /// DynamoDB from its sessions table's stream on moto, events also put on moto's `default`
    /// EventBridge bus.
    pub async fn start(kind: StoreKind) -> PresenceServer {
        crate::logs::capture();
        let (store, dynamo, feed, bus): (Arc<dyn Store>, Option<DynamoStore>, Feed, Arc<dyn EventBus>) = match kind {
            StoreKind::Memory => {
                let store = MemoryStore::new();
                let feed = Feed::of_memory(&store);
                (Arc::new(store), None, feed, Arc::new(NoEventBus))
            }
            StoreKind::DynamoDb => {
                let store = crate::dynamodb::fresh_store().await;
                let sdk = sdk_config();
                let endpoint = crate::dynamodb::endpoint().to_owned();
                let reader = StreamReader::open(&sdk, store.client(), &store.tables().sessions, Some(endpoint.clone()))
                    .await
                    .unwrap_or_else(|e| panic!("the sessions table's stream opens on moto: {e}"));
                let bus = EventBridgeBus::new(&sdk, "default", Some(endpoint));
                (
                    Arc::new(store.clone()),
                    Some(store),
                    Feed::Stream(reader),
                    Arc::new(bus),
                )
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let options = Options {
            feed,
            bus,
            ..Options::default()
        };
        tokio::spawn(local_api::serve_with(
            listener,
            store.clone(),
            options,
            std::future::pending(),
        ));
        let (app, _) = local_api::local_app(store.clone());
        PresenceServer {
            address,
            store,
            dynamo,
            app,
            kind,
        }
    }

    /// A WebSocket client connected with `query` (`token=...&deviceId=...`).
    pub async fn connect(&self, query: &str) -> Result<WsClient, WsError> {
        let mut request = format!("ws://{}/ws?{query}", self.address)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("user-agent", "PresenceEventsTest/1.0".parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(WsClient::new(socket))
    }

    /// The subscription items (`SUB#...`) left in the sessions table (DynamoDB only).
    pub async fn subscription_items(&self) -> Vec<(String, String)> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let store = self.dynamo.as_ref().expect("a DynamoDB server");
        let scan = store
            .client()
            .scan()
            .table_name(&store.tables().sessions)
            .consistent_read(true)
            .filter_expression("begins_with(pk, :sub)")
            .expression_attribute_values(":sub", AttributeValue::S("SUB#".into()))
            .send()
            .await
            .expect("the sessions table is scanned");
        let text = |item: &std::collections::HashMap<String, AttributeValue>, name: &str| {
            item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
        };
        scan.items()
            .iter()
            .map(|item| (text(item, "pk"), text(item, "sk")))
            .collect()
    }
}

/// A message a client received, with when it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub wall: SystemTime,
    pub value: Value,
}

#[derive(Default)]
struct Inbox {
    messages: Mutex<Vec<Received>>,
    arrived: Notify,
    closed: AtomicBool,
}

/// A WebSocket client whose messages a background task collects as they arrive.
pub struct WsClient {
    sink: SplitSink<Socket, Message>,
    inbox: Arc<Inbox>,
    /// Messages before this index were already taken by [`WsClient::next_reply`].
    cursor: usize,
}

impl WsClient {
    fn new(socket: Socket) -> WsClient {
        let (sink, mut stream) = socket.split();
        let inbox = Arc::new(Inbox::default());
        let collector = inbox.clone();
        tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                match frame {
                    Ok(Message::Text(text)) => {
                        let value = serde_json::from_str(&text).unwrap_or(Value::String(text.to_string()));
                        collector.messages.lock().unwrap().push(Received {
                            at: Instant::now(),
                            wall: SystemTime::now(),
                            value,
                        });
                        collector.arrived.notify_waiters();
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            collector.closed.store(true, Ordering::SeqCst);
            collector.arrived.notify_waiters();
        });
        WsClient { sink, inbox, cursor: 0 }
    }

    pub async fn send(&mut self, message: Value) {
        self.sink
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("the message is sent");
    }

    /// Sends `message` and returns the first message after the last reply taken that is not a
    /// `PRESENCE` event (the answer), within 5 s.
    pub async fn request(&mut self, message: Value) -> Value {
        self.send(message).await;
        self.next_reply().await
    }

    /// The next message that is not a `PRESENCE` event, within 5 s.
    pub async fn next_reply(&mut self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let waiting = self.inbox.arrived.notified();
            {
                let messages = self.inbox.messages.lock().unwrap();
                while self.cursor < messages.len() {
                    let value = &messages[self.cursor].value;
                    self.cursor += 1;
                    if value["type"] != "PRESENCE" {
                        return value.clone();
                    }
                }
            }
            if self.closed() {
                panic!("the connection closed before an answer");
            }
            if tokio::time::timeout_at(deadline.into(), waiting).await.is_err() {
                panic!("no answer within 5 s");
            }
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inbox.messages.lock().unwrap().clone()
    }

    /// The `PRESENCE` events received so far.
    pub fn events(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.value["type"] == "PRESENCE")
            .collect()
    }

    /// Whether the server closed the connection.
    pub fn closed(&self) -> bool {
        self.inbox.closed.load(Ordering::SeqCst)
    }

    /// Waits until `done` holds of the messages received (or the connection closes, or
    /// `patience` passes); whether it held. `done` runs with the inbox locked: it must read the
    /// messages it is given, not call this client's other methods.
    pub async fn wait_until(&self, patience: Duration, done: impl Fn(&[Received]) -> bool) -> bool {
        let deadline = Instant::now() + patience;
        loop {
            let waiting = self.inbox.arrived.notified();
            if done(&self.inbox.messages.lock().unwrap()) {
                return true;
            }
            if self.closed() {
                return done(&self.inbox.messages.lock().unwrap());
            }
            if tokio::time::timeout_at(deadline.into(), waiting).await.is_err() {
                return done(&self.inbox.messages.lock().unwrap());
            }
        }
    }

    /// Waits (up to `patience`) for a `PRESENCE` event satisfying `matches`; its arrival.
    pub async fn wait_event(&self, patience: Duration, matches: impl Fn(&Value) -> bool) -> Option<Received> {
        self.wait_until(patience, |messages| {
            messages
                .iter()
                .any(|r| r.value["type"] == "PRESENCE" && matches(&r.value))
        })
        .await;
        self.events().into_iter().find(|r| matches(&r.value))
    }

    /// Closes the connection from this side.
    pub async fn close(mut self) {
        let _ = self.sink.send(Message::Close(None)).await;
        let _ = self.sink.close().await;
        self.wait_until(Duration::from_secs(5), |_| false).await;
    }
}

/// Whether `event` is a `PRESENCE` `kind` (`ONLINE`/`OFFLINE`) of user `user`.
pub fn is_event(event: &Value, kind: &str, user: i64) -> bool {
    event["type"] == "PRESENCE"
        && event["event"] == kind
        && event["session"]["userId"].as_str() == Some(user.to_string().as_str())
}

/// The `p`th percentile (0..=100) of `values` (sorted here), nearest rank.
pub fn percentile(values: &mut [Duration], p: usize) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort();
    let rank = (p * values.len()).div_ceil(100).max(1);
    values[rank - 1]
}

/// One call to a moto service in its JSON protocol: `target` as `X-Amz-Target`, `service` as the
/// signing name in the credential scope (moto reads the service from it; it checks no
/// signature). The answer's status and JSON (`Null` for an empty body).
pub async fn moto_json(service: &str, target: &str, body: Value) -> (u16, Value) {
    let service = service.to_owned();
    let target = target.to_owned();
    tokio::task::spawn_blocking(move || moto_json_blocking(&service, &target, &body))
        .await
        .unwrap()
}

fn moto_json_blocking(service: &str, target: &str, body: &Value) -> (u16, Value) {
    use std::io::{Read, Write};
    let endpoint = crate::dynamodb::endpoint();
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("moto answers");
    let body = body.to_string();
    let content_type = if service == "dynamodb" || service == "sqs" {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    };
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\nX-Amz-Target: {target}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/{service}/aws4_request, \
         SignedHeaders=host, Signature=00\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("a request to moto");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("moto's answer");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, json) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let json = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(json)
    } else {
        json.to_owned()
    };
    let value = if json.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("moto answered {target} with {answer:?}: {e}"))
    };
    (status, value)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// [`moto_json`], asserting a 200.
pub async fn moto_ok(service: &str, target: &str, body: Value) -> Value {
    let (status, answer) = moto_json(service, target, body).await;
    assert_eq!(status, 200, "{target}: {answer}");
    answer
}

/// An SQS queue on moto receiving, through an EventBridge rule on the `default` bus, every event
/// matching `pattern`.
pub struct EventQueue {
    pub url: String,
    pub rule: String,
}

impl EventQueue {
    pub async fn create(name: &str, pattern: Value) -> EventQueue {
        let created = moto_ok("sqs", "AmazonSQS.CreateQueue", json!({"QueueName": name})).await;
        let url = created["QueueUrl"].as_str().expect("a queue url").to_owned();
        let arn = format!("arn:aws:sqs:{REGION}:{MOTO_ACCOUNT}:{name}");
        moto_ok(
            "events",
            "AWSEvents.PutRule",
            json!({"Name": name, "EventBusName": "default", "EventPattern": pattern.to_string(), "State": "ENABLED"}),
        )
        .await;
        let targets = moto_ok(
            "events",
            "AWSEvents.PutTargets",
            json!({"Rule": name, "EventBusName": "default", "Targets": [{"Id": "queue", "Arn": arn}]}),
        )
        .await;
        assert_eq!(targets["FailedEntryCount"], 0, "{targets}");
        EventQueue {
            url,
            rule: name.to_owned(),
        }
    }

    /// The events (parsed message bodies) received from the queue until `done` holds of all
    /// received so far or `patience` passes.
    pub async fn receive_until(&self, patience: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + patience;
        let mut events = Vec::new();
        while !done(&events) && Instant::now() < deadline {
            let answer = moto_ok(
                "sqs",
                "AmazonSQS.ReceiveMessage",
                json!({"QueueUrl": self.url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0}),
            )
            .await;
            let messages = answer["Messages"].as_array().cloned().unwrap_or_default();
            if messages.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            for message in messages {
                let body = message["Body"].as_str().unwrap_or_default();
                events.push(serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())));
                moto_ok(
                    "sqs",
                    "AmazonSQS.DeleteMessage",
                    json!({"QueueUrl": self.url, "ReceiptHandle": message["ReceiptHandle"]}),
                )
                .await;
            }
        }
        events
    }

    /// Removes the rule (so other tests' events stop reaching the queue) and the queue.
    pub async fn remove(self) {
        let _ = moto_json(
            "events",
            "AWSEvents.RemoveTargets",
            json!({"Rule": self.rule, "EventBusName": "default", "Ids": ["queue"]}),
        )
        .await;
        let _ = moto_json(
            "events",
            "AWSEvents.DeleteRule",
            json!({"Name": self.rule, "EventBusName": "default"}),
        )
        .await;
        let _ = moto_json("sqs", "AmazonSQS.DeleteQueue", json!({"QueueUrl": self.url})).await;
    }
}
