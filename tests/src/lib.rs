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

/// Runs each named case of the calling test file, an `async fn(Arc<dyn Store>)`, on both stores:
/// as `memory::<case>` on the embedded store and `dynamodb::<case>` on fresh tables behind the
/// strict proxy, so the test names show that both ran.
#[macro_export]
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(std::sync::Arc::new(message_center::store::MemoryStore::new())).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(std::sync::Arc::new($crate::dynamodb::fresh_store().await)).await;
                }
            )*
        }
    };
}
