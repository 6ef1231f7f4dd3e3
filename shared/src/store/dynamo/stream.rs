//! The sessions table's stream read back as [`SessionChange`]s: the `online-events` function
//! (DynamoDB Streams through Lambda) and the local API (reading the stream itself) both hand their
//! records' images here, so a session is decoded from a stream image by the same code that reads
//! it from the table. Items that are not sessions (connections, counters, subscriptions, the name
//! index) are no change.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{session_from, SESSION_SK_PREFIX};
use super::schema::attr;
use crate::domain::error::StoreError;
use crate::domain::events::SessionChange;

/// An item image as DynamoDB Streams carries it, in the SDK's attribute values.
pub type Image = HashMap<String, AttributeValue>;

/// Whether an item's keys are a session's (`T#<tenant>` / `S#<session>`).
pub fn is_session(keys: &Image) -> bool {
    let text = |name: &str| keys.get(name).and_then(|value| value.as_s().ok());
    text(attr::PK).is_some_and(|pk| pk.starts_with("T#"))
        && text(attr::SK).is_some_and(|sk| sk.starts_with(SESSION_SK_PREFIX))
}

/// The change a stream record describes, from its keys and its old and new images (the table's
/// stream keeps both); `None` for an item that is not a session. An image that does not read
/// back as a session is a [`StoreError::Failure`] naming the attribute.
pub fn session_change(
    keys: &Image,
    old_image: Option<&Image>,
    new_image: Option<&Image>,
) -> Result<Option<SessionChange>, StoreError> {
    if !is_session(keys) {
        return Ok(None);
    }
    let read = |image: Option<&Image>| image.filter(|i| !i.is_empty()).map(session_from).transpose();
    Ok(Some(SessionChange {
        before: read(old_image)?,
        after: read(new_image)?,
    }))
}
