//! Putting presence events on an EventBridge bus (source `message-center.online`, detail-type
//! `Session Online` / `Session Offline`, detail the DETAIL record), so integrations (rules to API
//! destinations, queues) need no code here. PutEvents takes 10 entries a call and may refuse some
//! of them (throttling, a failed entry): each event is reported on its own, so the caller retries
//! only those.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use futures::StreamExt;

use super::GatewayError;
use crate::domain::events::{PresenceEvent, EVENT_SOURCE};

/// Entries one PutEvents call carries at most (EventBridge's limit).
const ENTRIES_PER_CALL: usize = 10;
/// PutEvents calls in flight at once.
const CONCURRENCY: usize = 8;

/// Where presence events are published for integrations.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Puts every event; one result per event, in order.
    async fn put(&self, events: &[PresenceEvent]) -> Vec<Result<(), GatewayError>>;
}

/// A deployment (or a local run) without a bus: nothing to publish.
pub struct NoEventBus;

#[async_trait]
impl EventBus for NoEventBus {
    async fn put(&self, events: &[PresenceEvent]) -> Vec<Result<(), GatewayError>> {
        events.iter().map(|_| Ok(())).collect()
    }
}

/// An EventBridge event bus, by name or ARN (`default` for the account's default bus).
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeBus {
    /// The bus `bus` (a name or an ARN), at `endpoint` instead of AWS's when given (a local
    /// EventBridge-protocol server).
    pub fn new(config: &aws_config::SdkConfig, bus: &str, endpoint: Option<String>) -> Self {
        let mut builder = aws_sdk_eventbridge::config::Builder::from(config);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        EventBridgeBus {
            client: aws_sdk_eventbridge::Client::from_conf(builder.build()),
            bus: bus.to_owned(),
        }
    }

    fn entry(&self, event: &PresenceEvent) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(event.kind.detail_type())
            .detail(event.detail_json())
            .build()
    }

    /// One call of up to [`ENTRIES_PER_CALL`] events: a result per event.
    async fn put_chunk(&self, events: &[PresenceEvent]) -> Vec<Result<(), GatewayError>> {
        let entries = events.iter().map(|event| self.entry(event)).collect();
        match self.client.put_events().set_entries(Some(entries)).send().await {
            Ok(output) => {
                let answered = output.entries.unwrap_or_default();
                (0..events.len())
                    .map(|i| match answered.get(i) {
                        Some(entry) if entry.error_code.is_none() => Ok(()),
                        Some(entry) => Err(GatewayError(format!(
                            "PutEvents entry: {} {}",
                            entry.error_code.as_deref().unwrap_or_default(),
                            entry.error_message.as_deref().unwrap_or_default()
                        ))),
                        None => Err(GatewayError("PutEvents: no answer for the entry".into())),
                    })
                    .collect()
            }
            Err(error) => {
                let error = format!("PutEvents: {}", aws_sdk_eventbridge::error::DisplayErrorContext(error));
                events.iter().map(|_| Err(GatewayError(error.clone()))).collect()
            }
        }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn put(&self, events: &[PresenceEvent]) -> Vec<Result<(), GatewayError>> {
        // Owned chunks: a stream over borrowed ones trips the compiler's Send inference.
        let chunks: Vec<Vec<PresenceEvent>> = events.chunks(ENTRIES_PER_CALL).map(<[_]>::to_vec).collect();
        let chunks: Vec<Vec<Result<(), GatewayError>>> = futures::stream::iter(chunks)
            .map(|chunk| async move { self.put_chunk(&chunk).await })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        chunks.into_iter().flatten().collect()
    }
}
