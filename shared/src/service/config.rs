//! The service's configuration: read from the environment once, when a process starts
//! ([`Config::from_env`]), and carried in [`super::App`] from then on, so no use case reads the
//! environment itself and a test sets any value directly. The defaults are the contract's.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `CONNECTS_PER_MINUTE` | 30 | sessions one user may open per UTC minute; `0`: no limit |
//! | `PAGE_TOKEN_KEY` | random per process | the secret page tokens are signed with |
//! | `OFFLINE_TIME_BUDGET_SECONDS` | 25 | how long a forced offline works before it answers 202 |
//! | `STALE_AFTER_SECONDS` | 600 | a session with no heartbeat for this long is stale |
//! | `RETENTION_DAYS` | 30 | ended sessions are kept this many days |
//! | `CLEANUP_BATCH` | 100 (at most 1000) | items the cleanup reads and writes per step |
//! | `LIST_READ_BUDGET` | 100000 | sessions one list or search may read before it is refused with a 400 that says what to narrow |
//! | `AUDIT_RETENTION_DAYS` | 365 | audit records of forced offlines are kept this many days, then deleted by the cleanup |
//!
//! An unset, empty or unreadable value keeps its default (a deployment with a typo still serves,
//! with the contract's behaviour); the template sets the page token key, the forced-offline budget
//! and the cleanup's two periods, and leaves the rest at their defaults.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::page_token::PageTokenKey;
use crate::domain::ReadBudget;

/// Sessions one user may open a minute, unless `CONNECTS_PER_MINUTE` says otherwise.
pub const DEFAULT_CONNECTS_PER_MINUTE: u32 = 30;
/// Seconds a forced offline works before it answers, unless `OFFLINE_TIME_BUDGET_SECONDS` says
/// otherwise (the template sets 25 beside a 29 s timeout, inside API Gateway's 30 s).
pub const DEFAULT_OFFLINE_SECONDS: u64 = 25;

/// Days an audit record of a forced offline is kept, unless `AUDIT_RETENTION_DAYS` says otherwise.
pub const DEFAULT_AUDIT_RETENTION_DAYS: i64 = 365;

/// Everything the use cases are configured by.
#[derive(Clone)]
pub struct Config {
    /// Sessions one user may open per UTC minute; `None`: no limit.
    pub connects_per_minute: Option<u32>,
    /// The key page tokens are signed with.
    pub page_token_key: Arc<PageTokenKey>,
    /// How long a forced offline starts new batches before it answers with what it did.
    pub offline_budget: Duration,
    /// Sessions one listing may read.
    pub list_read_budget: ReadBudget,
    pub cleanup: CleanupSettings,
    /// Audit records are kept this many days (the cleanup deletes older ones; DynamoDB's TTL
    /// a day later is the backstop). Beside [`CleanupSettings`] rather than in it: the forced
    /// offline reads it too, for the records' TTL.
    pub audit_retention_days: i64,
}

/// What the cleanup does each run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupSettings {
    /// A session with no heartbeat for this long is stale (API Gateway's idle timeout is 600 s).
    pub stale_after_secs: i64,
    /// Ended sessions are kept this many days.
    pub retention_days: i64,
    /// Items fetched and written per step.
    pub batch: usize,
}

impl Default for CleanupSettings {
    fn default() -> Self {
        CleanupSettings {
            stale_after_secs: 600,
            retention_days: 30,
            batch: 100,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connects_per_minute: Some(DEFAULT_CONNECTS_PER_MINUTE),
            page_token_key: Arc::new(PageTokenKey::random()),
            offline_budget: Duration::from_secs(DEFAULT_OFFLINE_SECONDS),
            list_read_budget: ReadBudget::default(),
            cleanup: CleanupSettings::default(),
            audit_retention_days: DEFAULT_AUDIT_RETENTION_DAYS,
        }
    }
}

impl std::fmt::Debug for Config {
    /// Everything but the page token key, which is a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("connects_per_minute", &self.connects_per_minute)
            .field("offline_budget", &self.offline_budget)
            .field("list_read_budget", &self.list_read_budget)
            .field("cleanup", &self.cleanup)
            .field("audit_retention_days", &self.audit_retention_days)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// From the process's environment (see the module's table).
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// From `var`, which answers a variable's value by its name: [`Config::from_env`] without
    /// the process environment, for tests.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let read = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let positive = |name: &str| read(name).and_then(|v| v.parse::<i64>().ok()).filter(|v| *v > 0);
        let cleanup = CleanupSettings::default();
        Config {
            connects_per_minute: match read("CONNECTS_PER_MINUTE").map(|v| v.parse::<u32>()) {
                Some(Ok(0)) => None,
                Some(Ok(limit)) => Some(limit),
                _ => Some(DEFAULT_CONNECTS_PER_MINUTE),
            },
            page_token_key: match read("PAGE_TOKEN_KEY") {
                Some(secret) => Arc::new(PageTokenKey::new(secret.as_bytes())),
                None => {
                    if var("AWS_LAMBDA_FUNCTION_NAME").is_some() {
                        tracing::warn!("PAGE_TOKEN_KEY is not set: page tokens hold only within this container");
                    }
                    Arc::new(PageTokenKey::random())
                }
            },
            offline_budget: read("OFFLINE_TIME_BUDGET_SECONDS")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0)
                .map_or(Duration::from_secs(DEFAULT_OFFLINE_SECONDS), Duration::from_secs_f64),
            list_read_budget: positive("LIST_READ_BUDGET").map_or_else(ReadBudget::default, |b| ReadBudget(b as usize)),
            cleanup: CleanupSettings {
                stale_after_secs: positive("STALE_AFTER_SECONDS").unwrap_or(cleanup.stale_after_secs),
                retention_days: positive("RETENTION_DAYS").unwrap_or(cleanup.retention_days),
                batch: positive("CLEANUP_BATCH").map_or(cleanup.batch, |b| b.min(1000) as usize),
            },
            audit_retention_days: positive("AUDIT_RETENTION_DAYS").unwrap_or(DEFAULT_AUDIT_RETENTION_DAYS),
        }
    }

    /// No per-user connect limit: for suites that connect one user many times a minute on purpose.
    pub fn unlimited() -> Self {
        Config {
            connects_per_minute: None,
            ..Config::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Config {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn unset_or_unreadable_values_keep_the_contracts_defaults() {
        for config in [
            from(&[]),
            from(&[("CONNECTS_PER_MINUTE", "lots"), ("CLEANUP_BATCH", "-3")]),
        ] {
            assert_eq!(config.connects_per_minute, Some(DEFAULT_CONNECTS_PER_MINUTE));
            assert_eq!(config.offline_budget, Duration::from_secs(DEFAULT_OFFLINE_SECONDS));
            assert_eq!(config.cleanup, CleanupSettings::default());
            assert_eq!(config.audit_retention_days, DEFAULT_AUDIT_RETENTION_DAYS);
        }
    }

    #[test]
    fn set_values_are_read_once_into_the_config() {
        let config = from(&[
            ("CONNECTS_PER_MINUTE", " 0 "),
            ("OFFLINE_TIME_BUDGET_SECONDS", "2.5"),
            ("STALE_AFTER_SECONDS", "60"),
            ("RETENTION_DAYS", "1"),
            ("CLEANUP_BATCH", "5000"),
            ("LIST_READ_BUDGET", "500"),
            ("AUDIT_RETENTION_DAYS", "90"),
        ]);
        assert_eq!(config.audit_retention_days, 90);
        assert_eq!(config.list_read_budget, ReadBudget(500));
        assert_eq!(config.connects_per_minute, None, "0 turns the limit off");
        assert_eq!(config.offline_budget, Duration::from_millis(2500));
        assert_eq!(
            config.cleanup,
            CleanupSettings {
                stale_after_secs: 60,
                retention_days: 1,
                batch: 1000,
            }
        );
        assert_eq!(from(&[("CONNECTS_PER_MINUTE", "7")]).connects_per_minute, Some(7));
    }

    #[test]
    fn the_page_token_key_is_not_in_the_debug_form() {
        let config = from(&[("PAGE_TOKEN_KEY", "very-secret-key")]);
        assert!(!format!("{config:?}").contains("very-secret"));
    }
}
