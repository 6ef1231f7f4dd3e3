//! The `online-events` function's work: a batch of the sessions table's stream records (DynamoDB
//! Streams through Lambda, in order per shard) turned into presence events and delivered
//! ([`crate::service::events::publish`]). A record whose delivery failed in a way worth retrying
//! is reported in `batchItemFailures` (the template turns on `ReportBatchItemFailures`), so Lambda
//! retries from that record on, not the whole batch; a record that does not decode is logged and
//! skipped (retrying cannot change it), so one bad item never blocks the shard.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use crate::domain::events::SessionChange;
use crate::gateway::EventBus;
use crate::service::events::{publish, Published};
use crate::service::App;
use crate::store::dynamo::stream::{session_change, Image};

/// The change a record describes (`None`: not a session, or not readable, which is logged). The
/// images are moved, not copied: a batch holds up to 100 records of two images each.
fn change_of(record: &mut EventRecord) -> Option<SessionChange> {
    let image =
        |item: &mut serde_dynamo::Item| -> Option<Image> { (!item.is_empty()).then(|| std::mem::take(item).into()) };
    let keys: Image = std::mem::take(&mut record.change.keys).into();
    let old_image = image(&mut record.change.old_image);
    let new_image = image(&mut record.change.new_image);
    match session_change(&keys, old_image.as_ref(), new_image.as_ref()) {
        Ok(change) => change,
        Err(error) => {
            tracing::error!(
                %error,
                eventId = %record.event_id,
                sequenceNumber = record.change.sequence_number.as_deref().unwrap_or_default(),
                "stream record skipped: not a readable session"
            );
            None
        }
    }
}

/// Delivers one batch; the answer names the records to retry (by sequence number).
pub async fn handle_batch(app: &App, bus: &dyn EventBus, event: Event) -> (DynamoDbEventResponse, Published) {
    let records = event.records.len();
    let mut changes = Vec::new();
    let mut sequence_numbers = Vec::new();
    for mut record in event.records {
        if let Some(change) = change_of(&mut record) {
            changes.push(change);
            sequence_numbers.push(record.change.sequence_number);
        }
    }
    let published = publish(app, bus, &changes).await;
    let mut response = DynamoDbEventResponse::default();
    for index in &published.failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = sequence_numbers[*index].clone();
        response.batch_item_failures.push(failure);
    }
    tracing::info!(
        records,
        events = published.events,
        pushed = published.pushed,
        gone = published.gone,
        bused = published.bused,
        failed = published.failed.len(),
        "presence events"
    );
    (response, published)
}
