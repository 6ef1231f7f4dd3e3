//! Message Center Online: the code every function shares. Each Lambda binary is a thin `main.rs`
//! over this crate. The modules are layers, each importing only those below it (a test,
//! `tests/tests/layers.rs`, checks):
//!
//! 1. [`domain`]: the vocabulary and the rules that need no I/O (sessions, filters, ordering,
//!    paging, who may do what, errors);
//! 2. [`store`] and [`gateway`]: where state is kept (DynamoDB, or memory) and how live
//!    connections are reached (API Gateway's management API);
//! 3. [`service`]: the use cases (connect, heartbeat, list, force offline, cleanup...) over one
//!    [`service::App`];
//! 4. [`http`] and then [`ws`]: the adapters that turn API Gateway's events into use-case calls
//!    and their answers into the contract's envelope;
//! 5. [`lambda`]: start-up, logs and metrics of the function binaries.

pub mod domain;
pub mod gateway;
pub mod http;
pub mod lambda;
pub mod service;
pub mod store;
pub mod ws;

pub use domain::error::{ApiError, ErrorKind, StoreError};
