//! Presence events out: the session changes a store reports (DynamoDB's stream through the
//! `online-events` function, or the memory store's feed in the local API) become `PRESENCE`
//! messages pushed to every connection subscribed to the session's tenant, and events on the
//! event bus. Delivery is at least once: a change whose delivery failed in a way worth retrying
//! (its subscribers could not be read, a push failed other than on a gone connection, the bus
//! refused it) is reported failed, and the caller delivers it again (Lambda retries the stream
//! from that record); subscribers that had it already receive it twice. Per session the events go
//! in order: a connection receives one session's events one after the other, while different
//! connections and sessions proceed at once. A connection found gone loses its subscription.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;

use super::App;
use crate::domain::events::{PresenceEvent, SessionChange};
use crate::domain::{SessionId, TenantId};
use crate::gateway::{Delivery, EventBus};

/// Pushes (one connection, one session's events in order) in flight at once.
const PUSH_CONCURRENCY: usize = 128;

/// What one [`publish`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// Changes that were events (starts and ends of sessions).
    pub events: usize,
    /// Messages delivered to subscribed connections.
    pub pushed: usize,
    /// Subscriptions dropped because their connection was gone.
    pub gone: usize,
    /// Events put on the bus.
    pub bused: usize,
    /// Indexes (into the changes given) of the changes to deliver again, in order.
    pub failed: Vec<usize>,
}

/// Delivers the events among `changes` (in the order the store made them): to subscribed
/// connections through the app's gateway, and to `bus`.
pub async fn publish(app: &App, bus: &dyn EventBus, changes: &[SessionChange]) -> Published {
    let events: Vec<(usize, PresenceEvent)> = changes
        .iter()
        .enumerate()
        .filter_map(|(index, change)| PresenceEvent::from_change(change).map(|event| (index, event)))
        .collect();
    let mut failed = BTreeSet::new();
    if events.is_empty() {
        return Published::default();
    }

    // Who watches each tenant with events: one read for the whole batch. When it fails, every
    // event is to be delivered again.
    let tenants: BTreeSet<TenantId> = events.iter().map(|(_, event)| event.tenant()).collect();
    let subscribers: BTreeMap<TenantId, Vec<String>> = match app.store.subscribers_of(&tenants).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, "presence subscribers not read");
            failed.extend(events.iter().map(|(index, _)| *index));
            BTreeMap::new()
        }
    };

    // Each (connection, session): that session's messages, in order.
    let mut queues: BTreeMap<(String, SessionId), Vec<(usize, String)>> = BTreeMap::new();
    for (index, event) in &events {
        let Some(connections) = subscribers.get(&event.tenant()) else {
            continue;
        };
        let message = event.message();
        for connection in connections {
            queues
                .entry((connection.clone(), event.session.id))
                .or_default()
                .push((*index, message.clone()));
        }
    }
    let outcomes: Vec<Pushed> = futures::stream::iter(queues)
        .map(|((connection, _), messages)| push_in_order(app, connection, messages))
        .buffer_unordered(PUSH_CONCURRENCY)
        .collect()
        .await;
    let mut pushed = 0;
    let mut gone_connections = BTreeSet::new();
    for outcome in outcomes {
        pushed += outcome.delivered;
        failed.extend(outcome.failed);
        if let Some(connection) = outcome.gone {
            gone_connections.insert(connection);
        }
    }
    for connection in &gone_connections {
        if let Err(error) = app.store.unsubscribe(connection).await {
            tracing::warn!(%error, connectionId = %connection, "gone subscriber not dropped");
        }
    }

    let bus_events: Vec<PresenceEvent> = events.iter().map(|(_, event)| event.clone()).collect();
    let mut bused = 0;
    for ((index, _), result) in events.iter().zip(bus.put(&bus_events).await) {
        match result {
            Ok(()) => bused += 1,
            Err(error) => {
                tracing::warn!(%error, "presence event not put on the bus");
                failed.insert(*index);
            }
        }
    }

    Published {
        events: events.len(),
        pushed,
        gone: gone_connections.len(),
        bused,
        failed: failed.into_iter().collect(),
    }
}

/// What became of one connection's messages about one session.
struct Pushed {
    delivered: usize,
    /// The connection, when it turned out to be gone.
    gone: Option<String>,
    /// The changes whose message failed, and those after it (not sent, to keep the order).
    failed: Vec<usize>,
}

async fn push_in_order(app: &App, connection: String, messages: Vec<(usize, String)>) -> Pushed {
    let mut delivered = 0;
    for (position, (_, message)) in messages.iter().enumerate() {
        match app.gateway.send(&connection, message).await {
            Ok(Delivery::Delivered) => delivered += 1,
            Ok(Delivery::Gone) => {
                return Pushed {
                    delivered,
                    gone: Some(connection),
                    failed: Vec::new(),
                }
            }
            Err(error) => {
                tracing::warn!(%error, connectionId = %connection, "presence event not pushed");
                return Pushed {
                    delivered,
                    gone: None,
                    failed: messages[position..].iter().map(|(index, _)| *index).collect(),
                };
            }
        }
    }
    Pushed {
        delivered,
        gone: None,
        failed: Vec::new(),
    }
}
