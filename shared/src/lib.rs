//! Message Center Online: the code every function shares. Each Lambda binary is a thin `main.rs`
//! over this crate: the domain, parsing of what callers send, auth, the store, the connection
//! gateway, the envelope, and the handlers that put them together.

pub mod api;
pub mod auth;
pub mod aws;
pub mod budget;
pub mod cleanup;
pub mod cors;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod gateway;
pub mod metrics;
pub mod offline;
pub mod page_token;
pub mod query;
pub mod realtime;
pub mod runtime;
pub mod store;
pub mod telemetry;

pub use error::{ApiError, ErrorKind, StoreError};
