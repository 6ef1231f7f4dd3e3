//! The DynamoDB side of the tests: a moto server on 127.0.0.1 and a client for it.
//!
//! `DYNAMODB_ENDPOINT` names a server already running (`infra/scripts/test.sh` starts one).
//! Without it, the first test to ask starts `infra/scripts/moto_server.py` (moto, one request at
//! a time: see that file for why) on a free port, with the Python of `MOTO_PYTHON`, else the
//! repository's `.venv`, else `python3`; a watchdog stops it when the test process exits. If
//! neither works, the test fails: a missing server is never a skipped test.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use std::sync::Arc;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_sdk_dynamodb::Client;
use message_center::store::schema::{create_tables, TableNames};
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

/// Starts the moto server on a free loopback port, tied to this process's life by a shell watchdog.
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
    let watchdog = format!(
        "{python} {repository}/infra/scripts/moto_server.py -H 127.0.0.1 -p {port} >/dev/null 2>&1 & server=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 1; done; kill $server 2>/dev/null",
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
    format!("http://{address}")
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
    Client::from_conf(config(message_center::aws::http_client()).build())
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

/// A store on tables of its own (a fresh, unique prefix), so tests run in parallel untouched.
pub async fn fresh_store() -> DynamoStore {
    store_on(client()).await
}

/// A fresh store whose requests pass through `faults`, with the service's retry policy (standard
/// mode: 3 attempts) but backoffs of milliseconds rather than seconds, so a test of hundreds of
/// faults takes seconds.
pub async fn faulty_store(faults: &Arc<Faults>) -> DynamoStore {
    let retries = RetryConfig::standard()
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(50));
    let http_client = faults.http_client(message_center::aws::http_client());
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
