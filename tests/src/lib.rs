//! What the cross-crate tests share: a real DynamoDB-protocol server (moto's, started here when
//! the environment does not name one), fresh tables per test, builders for test data, a recording
//! connection gateway, and the API Gateway event fixtures of `events/`.

pub mod dynamodb;
pub mod events;
pub mod fixtures;
pub mod gateway;
