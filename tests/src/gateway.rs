//! A connection gateway for handler tests that records what it was asked to do. Connections it
//! was told are live answer `Delivered`; any other is already gone, as API Gateway would say.

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;
use message_center::gateway::{ConnectionGateway, Delivery, GatewayError};

#[derive(Default)]
pub struct RecordingGateway {
    live: Mutex<BTreeSet<String>>,
    /// `(connection id, message)` in the order sent.
    pub sent: Mutex<Vec<(String, String)>>,
    pub closed: Mutex<Vec<String>>,
}

impl RecordingGateway {
    pub fn with_live(connections: impl IntoIterator<Item = String>) -> Self {
        RecordingGateway {
            live: Mutex::new(connections.into_iter().collect()),
            ..Default::default()
        }
    }

    pub fn sent(&self) -> Vec<(String, String)> {
        self.sent.lock().unwrap().clone()
    }

    pub fn closed(&self) -> Vec<String> {
        self.closed.lock().unwrap().clone()
    }
}

#[async_trait]
impl ConnectionGateway for RecordingGateway {
    async fn send(&self, connection_id: &str, message: &str) -> Result<Delivery, GatewayError> {
        if !self.live.lock().unwrap().contains(connection_id) {
            return Ok(Delivery::Gone);
        }
        self.sent
            .lock()
            .unwrap()
            .push((connection_id.to_owned(), message.to_owned()));
        Ok(Delivery::Delivered)
    }

    async fn close(&self, connection_id: &str) -> Result<Delivery, GatewayError> {
        if !self.live.lock().unwrap().remove(connection_id) {
            return Ok(Delivery::Gone);
        }
        self.closed.lock().unwrap().push(connection_id.to_owned());
        Ok(Delivery::Delivered)
    }
}
