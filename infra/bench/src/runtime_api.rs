//! A Lambda Runtime API for one function process at a time: the few routes a Rust function calls
//! (`next`, `response`, `error`, `init/error`), so a release binary can be run and timed exactly as
//! Lambda runs it: from exec to its first response (cold start), then warm invocations, and its
//! peak resident memory read from `/proc`. It serves the invocations it is given, one at a time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, Notify};

/// What the function answered to one invocation.
#[derive(Debug)]
pub struct Answer {
    pub request_id: String,
    /// `false` when the function reported an error (`/error` or `init/error`).
    pub ok: bool,
    pub body: Bytes,
    pub at: Instant,
}

#[derive(Default)]
struct Queue {
    /// When the function first asked for work: the end of its initialisation.
    first_poll: std::sync::OnceLock<Instant>,
    pending: Mutex<VecDeque<(String, Bytes)>>,
    arrived: Notify,
}

#[derive(Clone)]
struct Shared {
    queue: Arc<Queue>,
    answers: mpsc::UnboundedSender<Answer>,
}

/// A running Runtime API on a loopback port.
pub struct RuntimeApi {
    pub address: std::net::SocketAddr,
    queue: Arc<Queue>,
    answers: mpsc::UnboundedReceiver<Answer>,
    invocations: u64,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let queue = Arc::new(Queue::default());
        let (sender, answers) = mpsc::unbounded_channel();
        let shared = Shared {
            queue: queue.clone(),
            answers: sender,
        };
        let routes = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("the bound address");
        tokio::spawn(async move { axum::serve(listener, routes).await });
        RuntimeApi {
            address,
            queue,
            answers,
            invocations: 0,
        }
    }

    /// Queues one event for the function's next `GET .../next`; returns its request id.
    pub fn invoke(&mut self, event: &[u8]) -> String {
        self.invocations += 1;
        let request_id = format!("bench-{:08}", self.invocations);
        self.queue
            .pending
            .lock()
            .expect("the queue lock")
            .push_back((request_id.clone(), Bytes::copy_from_slice(event)));
        self.queue.arrived.notify_one();
        request_id
    }

    /// When the function first asked for work, if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        self.queue.first_poll.get().copied()
    }

    /// The next answer, or `None` after `patience`.
    pub async fn answer(&mut self, patience: Duration) -> Option<Answer> {
        tokio::time::timeout(patience, self.answers.recv()).await.ok().flatten()
    }
}

async fn next(State(shared): State<Shared>) -> impl IntoResponse {
    shared.queue.first_poll.get_or_init(Instant::now);
    loop {
        let waiting = shared.queue.arrived.notified();
        let event = shared.queue.pending.lock().expect("the queue lock").pop_front();
        if let Some((request_id, body)) = event {
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(30);
            let mut headers = HeaderMap::new();
            let mut set = |name: &'static str, value: String| {
                headers.insert(name, HeaderValue::from_str(&value).expect("an ASCII header"));
            };
            set("lambda-runtime-aws-request-id", request_id);
            set("lambda-runtime-deadline-ms", deadline.as_millis().to_string());
            set(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench".into(),
            );
            set(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".into(),
            );
            return (StatusCode::OK, headers, body);
        }
        waiting.await;
    }
}

fn record(shared: &Shared, request_id: String, ok: bool, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let _ = shared.answers.send(Answer {
        request_id,
        ok,
        body,
        at,
    });
    StatusCode::ACCEPTED
}

async fn response(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    record(&shared, id, true, body)
}

async fn error(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    record(&shared, id, false, body)
}

async fn init_error(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    record(&shared, "init".into(), false, body)
}

/// Peak and current resident memory of a process, in KiB (`VmHWM`, `VmRSS` from `/proc`).
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}
