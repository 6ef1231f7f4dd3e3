//! The DynamoDB side of the tests: a moto server on 127.0.0.1 behind the strict DynamoDB proxy
//! (`infra/scripts/strict_dynamodb.py`: AWS's transaction conflicts, throttling per key, hard
//! limits and, when a test asks, eventually consistent indexes), and clients for it.
//!
//! `DYNAMODB_ENDPOINT` names a proxy already running (`infra/scripts/test.sh` starts moto and the
//! proxy). Without it, the first test to ask starts both (`infra/scripts/moto_server.py`, one
//! request at a time: see that file for why) on free ports, with the Python of `MOTO_PYTHON`, else
//! the repository's `.venv`, else `python3`; a watchdog stops them when the test process exits. If
//! that fails, the test fails: a missing server is never a skipped test.
//!
//! Every store gets tables of its own under a fresh prefix; [`strict_store`] also sets the
//! proxy's model for that prefix, so a test can turn on index lag or tighter rates for itself.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use std::sync::Arc;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_sdk_dynamodb::Client;
use message_center::store::dynamo::schema::{create_tables, TableNames};
use message_center::store::DynamoStore;

use crate::faults::Faults;

static ENDPOINT: OnceLock<String> = OnceLock::new();
static WATCHDOG: OnceLock<std::sync::Mutex<std::process::Child>> = OnceLock::new();

/// The endpoint of a running DynamoDB-protocol server; panics with what to do when there is none.
pub fn endpoint() -> &'static str {
    ENDPOINT.get_or_init(|| {
        let endpoint = match std::env::var("DYNAMODB_ENDPOINT") {
            Ok(endpoint) => endpoint,
            Err(_) => start_moto(),
        };
        let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
        let address: SocketAddr = address
            .parse()
            .unwrap_or_else(|_| panic!("DYNAMODB_ENDPOINT {endpoint} is not http://host:port"));
        wait_until_listening(address, Duration::from_secs(60))
            .unwrap_or_else(|| panic!("no DynamoDB-protocol server answers at {endpoint}"));
        endpoint
    })
}

/// Starts moto and the strict proxy in front of it on free loopback ports, tied to this process's
/// life by a shell watchdog; the proxy's endpoint.
fn start_moto() -> String {
    let repository = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let venv_python = format!("{repository}/.venv/bin/python");
    let python = std::env::var("MOTO_PYTHON").unwrap_or_else(|_| {
        if std::path::Path::new(&venv_python).exists() {
            venv_python
        } else {
            "python3".into()
        }
    });
    let proxy_port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let watchdog = format!(
        "{python} {repository}/infra/scripts/moto_server.py -H 127.0.0.1 -p {port} >/dev/null 2>&1 & server=$!; \
         {python} {repository}/infra/scripts/strict_dynamodb.py --listen 127.0.0.1:{proxy_port} \
           --upstream http://127.0.0.1:{port} --txn-hold-ms 20 >/dev/null 2>&1 & proxy=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $server 2>/dev/null && kill -0 $proxy 2>/dev/null; \
           do sleep 1; done; kill $server $proxy 2>/dev/null",
        parent = std::process::id()
    );
    let watchdog = Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start the moto server with {python}: {e}"));
    // Held for the process's life: the watchdog ends with the server, after this process.
    let _ = WATCHDOG.set(std::sync::Mutex::new(watchdog));
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    if wait_until_listening(address, Duration::from_secs(60)).is_none() {
        panic!(
            "the moto server did not start on {address} with {python}. Run the tests with \
             infra/scripts/test.sh (it installs moto), or `pip install 'moto[server]'`, or set \
             DYNAMODB_ENDPOINT to a running DynamoDB-protocol server."
        );
    }
    let proxy = SocketAddr::from(([127, 0, 0, 1], proxy_port));
    if wait_until_listening(proxy, Duration::from_secs(60)).is_none() {
        panic!("the strict DynamoDB proxy did not start on {proxy} with {python}");
    }
    format!("http://{proxy}")
}

fn wait_until_listening(address: SocketAddr, patience: Duration) -> Option<()> {
    let started = Instant::now();
    while started.elapsed() < patience {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// A client for the test server with dummy credentials and a fixed region: it never looks for
/// AWS configuration, so it never probes the instance-metadata address.
pub fn client() -> Client {
    Client::from_conf(config(message_center::lambda::aws::http_client()).build())
}

/// The configuration of [`client`], sending through `http_client`.
fn config(http_client: SharedHttpClient) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint())
        .http_client(http_client)
}

/// A store on tables of its own (a fresh, unique prefix), so tests run in parallel untouched,
/// under the proxy's default model: conflicts, throttling at AWS's per-key rates and hard limits
/// on, indexes consistent.
pub async fn fresh_store() -> DynamoStore {
    store_on(client()).await
}

/// What the strict proxy models for one store's tables (`POST /strict/config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrictModel {
    /// Each write reaches the indexes up to this many milliseconds late (0: at once).
    pub gsi_lag_ms: u64,
    pub conflicts: bool,
    pub throttle: bool,
    pub limits: bool,
    /// A transaction holds its items for a random time up to this long, its execution time on
    /// AWS (some 10 to 30 ms), before it is applied: concurrent ones overlap as on AWS, though moto
    /// serves one request at a time. The default of every store is 20.
    pub txn_hold_ms: u64,
    /// Write and read units per second per partition key.
    pub wcu_per_key: u64,
    pub rcu_per_key: u64,
}

impl StrictModel {
    /// AWS as a deployed stack meets it: every model on, indexes up to `gsi_lag_ms` behind.
    pub fn aws(gsi_lag_ms: u64) -> Self {
        StrictModel {
            gsi_lag_ms,
            conflicts: true,
            throttle: true,
            limits: true,
            txn_hold_ms: 20,
            wcu_per_key: 1000,
            rcu_per_key: 3000,
        }
    }
}

/// A fresh store whose tables the proxy serves under `model`.
pub async fn strict_store(model: StrictModel) -> DynamoStore {
    crate::logs::capture();
    let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
    let config = serde_json::json!({
        "tablePrefix": prefix,
        "gsiLagMs": model.gsi_lag_ms,
        "conflicts": model.conflicts,
        "throttle": model.throttle,
        "limits": model.limits,
        "txnHoldMs": model.txn_hold_ms,
        "wcuPerKey": model.wcu_per_key,
        "rcuPerKey": model.rcu_per_key,
    });
    let answer = proxy_call("POST", "/strict/config", Some(&config.to_string()));
    assert_eq!(answer["ok"], true, "the strict proxy took the model: {answer}");
    let names = TableNames::with_prefix(&prefix);
    create_tables(&client(), &names)
        .await
        .expect("tables are created on the test server");
    DynamoStore::new(client(), names)
}

/// What the strict proxy has counted since it started or was last reset (`GET /strict/stats`):
/// conflicts, throttling, index lag hidden, the largest rate on one key.
pub fn proxy_stats() -> serde_json::Value {
    proxy_call("GET", "/strict/stats", None)
}

/// Zeroes the strict proxy's counters.
pub fn reset_proxy_stats() {
    proxy_call("POST", "/strict/stats/reset", None);
}

/// One call to the proxy's control API: plain HTTP/1.1 on loopback, the JSON answer.
fn proxy_call(method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
    use std::io::{Read, Write};
    let address = endpoint().trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).expect("the strict proxy answers");
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("a request to the strict proxy");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("the strict proxy's answer");
    let json = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("the strict proxy answered {answer:?}: {e}"))
}

/// A fresh store whose requests pass through `faults`, with the service's retry policy (standard
/// mode: 3 attempts) but backoffs of milliseconds rather than seconds, so a test of hundreds of
/// faults takes seconds.
pub async fn faulty_store(faults: &Arc<Faults>) -> DynamoStore {
    let retries = RetryConfig::standard()
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(50));
    let http_client = faults.http_client(message_center::lambda::aws::http_client());
    store_on(Client::from_conf(config(http_client).retry_config(retries).build())).await
}

async fn store_on(client: Client) -> DynamoStore {
    crate::logs::capture();
    let names = TableNames::with_prefix(&format!("t{}", ulid::Ulid::new().to_string().to_lowercase()));
    // Through a client without faults: the tables are the test's ground, not its subject.
    create_tables(&self::client(), &names)
        .await
        .expect("tables are created on the test server");
    DynamoStore::new(client, names)
}
