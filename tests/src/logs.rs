//! The logs of every test process, kept to prove that no raw token is ever logged.
//!
//! [`capture`] installs, once per process, the service's own JSON log format at `trace` for the
//! service and the local API and `info` for everything else, writing each line both to
//! memory ([`captured`]) and to `target/test-logs/<test binary>-<pid>.jsonl`. Every raw token the
//! tests make goes through [`remember_token`] (the token fixture calls it), which lists it in
//! `target/test-logs/tokens-<pid>.txt`. After the whole suite, `infra/scripts/check-secrets.sh`
//! looks for every listed token in every captured log, across all the suites.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use message_center::lambda::telemetry::JsonLines;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Tokens shorter than this are words a log may hold for other reasons ("live"); they are kept
/// out of the scan rather than failing it by chance.
pub const MIN_SCANNED_TOKEN_CHARS: usize = 8;

struct Sink {
    memory: Mutex<Vec<u8>>,
    file: Mutex<Option<File>>,
    tokens: Mutex<(BTreeSet<String>, Option<File>)>,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// `target/test-logs` of this workspace.
pub fn logs_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/test-logs"))
}

fn open(name: &str) -> Option<File> {
    let dir = logs_dir();
    std::fs::create_dir_all(&dir).ok()?;
    OpenOptions::new().create(true).append(true).open(dir.join(name)).ok()
}

fn sink() -> &'static Sink {
    SINK.get_or_init(|| {
        let binary = std::env::current_exe()
            .ok()
            .and_then(|path| path.file_stem().map(|stem| stem.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "tests".into());
        let pid = std::process::id();
        let sink = Sink {
            memory: Mutex::default(),
            file: Mutex::new(open(&format!("{binary}-{pid}.jsonl"))),
            tokens: Mutex::new((BTreeSet::new(), open(&format!("tokens-{pid}.txt")))),
        };
        let filter = Targets::new()
            // The AWS SDK is given hashes only, never a raw token; at `debug` it writes ~30 lines
            // per request, which would make the suite's logs gigabytes.
            .with_default(LevelFilter::INFO)
            .with_target("message_center", LevelFilter::TRACE)
            .with_target("local_api", LevelFilter::TRACE);
        // The functions' own line format, so the scan reads what CloudWatch would hold.
        let json = tracing_subscriber::fmt::layer()
            .event_format(JsonLines::new(Some(binary.clone())))
            .with_writer(|| SinkWriter);
        let _ = tracing_subscriber::registry().with(json).with(filter).try_init();
        sink
    })
}

/// Starts capturing this process's logs (once; later calls do nothing), with the local API's demo
/// tokens listed for the scan.
pub fn capture() {
    static DEMO_TOKENS: OnceLock<()> = OnceLock::new();
    DEMO_TOKENS.get_or_init(|| {
        for demo in local_api::demo::tokens() {
            remember_token(demo.token);
        }
    });
}

/// Everything logged since [`capture`], as text.
pub fn captured() -> String {
    String::from_utf8_lossy(&sink().memory.lock().unwrap()).into_owned()
}

/// Every line logged since [`capture`], as the JSON object it is.
pub fn captured_lines() -> Vec<serde_json::Value> {
    captured()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The lines an invocation logged: those whose `function_request_id` (the Lambda request id, on
/// every line logged inside an invocation, `message_center::lambda::telemetry`) is `id`.
pub fn invocation_lines(function_request_id: &str) -> Vec<serde_json::Value> {
    captured_lines()
        .into_iter()
        .filter(|line| line["function_request_id"] == function_request_id)
        .collect()
}

/// Lists a raw token for the scan of every suite's logs, and starts capturing.
pub fn remember_token(token: &str) {
    let (seen, file) = &mut *sink().tokens.lock().unwrap();
    if token.chars().count() >= MIN_SCANNED_TOKEN_CHARS && seen.insert(token.to_owned()) {
        if let Some(file) = file {
            let _ = writeln!(file, "{token}");
        }
    }
}

struct SinkWriter;

impl Write for SinkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let sink = sink();
        sink.memory.lock().unwrap().extend_from_slice(bytes);
        if let Some(file) = sink.file.lock().unwrap().as_mut() {
            let _ = file.write_all(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
