//! Logging for every binary: JSON lines through tracing-subscriber (what CloudWatch Logs Insights
//! reads), the level from `LOG_LEVEL` (default `info`).
//!
//! `LOG_LEVEL` takes a level (`debug`) or per-target levels (`message_center=debug,warn`), read by
//! tracing-subscriber's `Targets` filter: the same syntax as `RUST_LOG` without its regular
//! expressions, which would add a regex engine (~1 MB) to every function binary.

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter `LOG_LEVEL` names; `info` when it is unset or unreadable.
pub fn level_filter(log_level: Option<&str>) -> Targets {
    log_level
        .and_then(|level| Targets::from_str(level).ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// Installs the JSON subscriber once; later calls do nothing.
pub fn init() {
    let filter = level_filter(std::env::var("LOG_LEVEL").ok().as_deref());
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_target(false)
        .with_current_span(false)
        .flatten_event(true);
    let _ = tracing_subscriber::registry().with(json).with(filter).try_init();
}
