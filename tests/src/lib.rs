//! What the cross-crate tests share: a real DynamoDB-protocol server (moto's, started here when
//! the environment does not name one), fresh tables per test, builders for test data, a recording
//! connection gateway, faults injected in front of the server, and the API Gateway event fixtures of `events/`.

pub mod contract;
pub mod dynamodb;
pub mod events;
pub mod faults;
pub mod fixtures;
pub mod gateway;
pub mod logs;
pub mod presence;

use std::sync::Arc;
use std::time::Instant;

use message_center::domain::Timestamp;
use message_center::service::cleanup::{CleanupReport, CleanupSettings};
use message_center::service::App;
use message_center::store::{MemoryStore, Store};
use message_center::StoreError;

/// The two stores every behaviour is proven on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The embedded store (the local API's).
    Memory,
    /// DynamoDB: fresh tables on moto's server, behind the strict proxy ([`dynamodb`]).
    DynamoDb,
}

impl StoreKind {
    /// A store of this kind with nothing in it.
    pub async fn fresh(self) -> Arc<dyn Store> {
        match self {
            StoreKind::Memory => Arc::new(MemoryStore::new()),
            StoreKind::DynamoDb => Arc::new(dynamodb::fresh_store().await),
        }
    }
}

/// The one way a test runs on both stores. Each named case of the calling test file runs as
/// `memory::<case>` on the embedded store and `dynamodb::<case>` on fresh tables behind the strict
/// proxy, so the test names show that both ran. A case is an `async fn(Arc<dyn Store>)`;
/// `#[multi_thread] case` runs it on a two-thread runtime. After `each:`, a case is an
/// `async fn(StoreKind)`, for a case that makes fresh stores of its own (one per generated run).
#[macro_export]
macro_rules! both_stores {
    (each: $($(#[$flavor:ident])? $case:ident),* $(,)?) => {
        mod memory {
            $( $crate::store_test!($($flavor)? $case { super::$case($crate::StoreKind::Memory).await }); )*
        }
        mod dynamodb {
            $( $crate::store_test!($($flavor)? $case { super::$case($crate::StoreKind::DynamoDb).await }); )*
        }
    };
    ($($(#[$flavor:ident])? $case:ident),* $(,)?) => {
        mod memory {
            $( $crate::store_test!($($flavor)? $case {
                super::$case($crate::StoreKind::Memory.fresh().await).await
            }); )*
        }
        mod dynamodb {
            $( $crate::store_test!($($flavor)? $case {
                super::$case($crate::StoreKind::DynamoDb.fresh().await).await
            }); )*
        }
    };
}

/// One test of [`both_stores!`]: on tokio's single-thread runtime, or `multi_thread` on two.
#[doc(hidden)]
#[macro_export]
macro_rules! store_test {
    (multi_thread $case:ident $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() $body
    };
    ($case:ident $body:block) => {
        #[tokio::test]
        async fn $case() $body
    };
}

/// One cleanup run of `app` with `settings` in place of its configured ones: the suites vary
/// them run by run, where a deployment reads them once.
pub async fn run_cleanup(
    app: &App,
    settings: &CleanupSettings,
    now: Timestamp,
    deadline: Instant,
) -> Result<CleanupReport, StoreError> {
    let mut app = app.clone();
    app.config.cleanup = *settings;
    message_center::service::cleanup::cleanup(&app, now, deadline).await
}
