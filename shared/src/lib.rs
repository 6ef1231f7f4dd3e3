//! Message Center Online: the code every function shares. Each Lambda binary is a thin `main.rs`
//! over this crate: the domain, parsing of what callers send, auth, the store, and the envelope.

pub mod auth;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod offline;
pub mod query;
pub mod store;

pub use error::{ApiError, ErrorKind, StoreError};
