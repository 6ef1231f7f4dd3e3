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
