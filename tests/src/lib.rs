//! What the cross-crate tests share: a real DynamoDB-protocol server (moto's, started here when
//! the environment does not name one), fresh tables per test, and builders for test data.

pub mod dynamodb;
pub mod fixtures;
