//! The use cases: what the service does, as plain async functions over one [`App`], free of HTTP,
//! WebSocket and Lambda. The adapters ([`crate::http`], [`crate::ws`], the cleanup's entry point
//! in [`crate::lambda`]) only parse what arrives, call one of these, and shape the answer.
//!
//! | use case | what it does |
//! |---|---|
//! | [`presence::connect`] | authenticates a WebSocket client and records its online session |
//! | [`presence::disconnect`] | ends the session of a closed connection |
//! | [`presence::heartbeat`] | keeps a session online while its token lives; ends it when it does not |
//! | [`presence::subscribe`], [`presence::unsubscribe`] | a connection starts or stops receiving presence events |
//! | [`events::publish`] | pushes session starts and ends to subscribers and the event bus |
//! | [`listing::list`], [`listing::search`] | a page of sessions in the caller's scope |
//! | [`detail::detail`] | one user's presence |
//! | [`offline::force_offline`] | revokes tokens, ends sessions, closes connections, and records it in the audit trail |
//! | [`audit::list_audit`] | a page of the audit trail of forced offlines in the caller's scope |
//! | [`cleanup::cleanup`] | ends stale and token-less sessions, deletes old sessions and tokens |
//!
//! Rules live here once: who may call what ([`auth`]), and the order of a forced offline (tokens
//! first, then sessions, then connections), which the stores only store.

pub mod audit;
pub mod auth;
pub mod cleanup;
pub mod config;
pub mod detail;
pub mod events;
pub mod listing;
pub mod offline;
pub mod presence;

use std::sync::Arc;

pub use config::Config;

use crate::gateway::ConnectionGateway;
use crate::store::Store;

/// What every use case works with, built once per process (per Lambda container), not per
/// request: the store, the way to live connections, and the configuration read at start.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub gateway: Arc<dyn ConnectionGateway>,
    pub config: Config,
}

impl App {
    /// The service over `store` and `gateway`, with the contract's default configuration.
    pub fn new(store: Arc<dyn Store>, gateway: Arc<dyn ConnectionGateway>) -> Self {
        App {
            store,
            gateway,
            config: Config::default(),
        }
    }
}
