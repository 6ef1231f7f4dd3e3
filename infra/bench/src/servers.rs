//! The DynamoDB-protocol servers the benches measure against.
//!
//! - **moto** behind the strict proxy (`message_center_tests::dynamodb`): what the tests use, and
//!   the default. It sorts a whole partition on every table query and walks the whole table for
//!   every index query, so at 1,000,000 sessions one query takes seconds to minutes.
//! - **dynalite** (the `dynalite` npm package, 4.0.0: DynamoDB's protocol on LevelDB, in memory),
//!   for the large `list-cost` runs alone: it keeps each index as its own key-ordered store and
//!   reads a query's key range, so a query costs what it reads. Its `ScannedCount` is the items it
//!   read, before any filter, within `Limit` and the 1 MB page, as DynamoDB's; `list-cost` runs the
//!   same rows on moto at the small sizes to check that both servers count the same. It has no
//!   transactions and no TTL, which listings do not use (the tables are created without TTL).
//!   Install: `npm install --prefix target/dynalite dynalite@4.0.0` (or set `DYNALITE` to its
//!   `cli.js`); it runs under `node`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use message_center::store::dynamo::schema::{create_table, TableNames, SESSIONS_TABLE, TOKENS_TABLE};
use message_center::store::DynamoStore;

/// Which server a run measures against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Moto,
    Dynalite,
}

impl Server {
    pub fn parse(name: &str) -> Option<Server> {
        match name {
            "moto" => Some(Server::Moto),
            "dynalite" => Some(Server::Dynalite),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Server::Moto => "moto",
            Server::Dynalite => "dynalite",
        }
    }
}

/// A dynalite process of this run, stopped when dropped.
pub struct Dynalite {
    child: Child,
    endpoint: String,
}

impl Dynalite {
    /// Starts dynalite on a free loopback port, in memory, tables active at once.
    pub fn start() -> Dynalite {
        let repository = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let script = std::env::var("DYNALITE")
            .unwrap_or_else(|_| format!("{repository}/target/dynalite/node_modules/dynalite/cli.js"));
        if !std::path::Path::new(&script).exists() {
            panic!(
                "dynalite is not installed at {script}: npm install --prefix target/dynalite dynalite@4.0.0 \
                 (or set DYNALITE to its cli.js)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new("node")
            // A tenant of 1,000,000 sessions holds some 6 GB in dynalite's in-memory store.
            .arg("--max-old-space-size=16384")
            .arg(&script)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--createTableMs",
                "0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start dynalite with node: {e}"));
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "dynalite did not start on {address}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Dynalite {
            child,
            endpoint: format!("http://{address}"),
        }
    }

    /// A store on fresh tables of this server (no TTL: dynalite has none, and listings need none).
    pub async fn store(&self) -> DynamoStore {
        let config = message_center::lambda::aws::sdk_config_from_env("bench");
        let names = TableNames::with_prefix(&format!("b{}", std::process::id()));
        let store = DynamoStore::from_config(&config, names.clone(), Some(self.endpoint.clone()));
        create_table(store.client(), &names.sessions, &SESSIONS_TABLE)
            .await
            .expect("the sessions table is created on dynalite");
        create_table(store.client(), &names.tokens, &TOKENS_TABLE)
            .await
            .expect("the tokens table is created on dynalite");
        store
    }

    /// The server's resident memory, in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kib: f64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some((kib / 1024.0).round())
    }
}

impl Drop for Dynalite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
