//! The relay's live event socket fed to an [`EventListener`] the app
//! implements: a thin adapter over `carechain_client::events`, which
//! acknowledges each event after the listener returns, reconnects and
//! resumes, so an event is delivered at least once and a duplicate id is
//! never handed to the listener twice by one subscription.

use std::sync::{Arc, Mutex};

use carechain_client::events::{self, Cursor, EventSink};

use crate::error::{MobileError, invalid};
use crate::relay::RelayClient;
use crate::runtime;
use crate::types::RelayEvent;

/// Receives relay events; called from a background thread, one at a time.
#[uniffi::export(with_foreign)]
pub trait EventListener: Send + Sync {
    /// A new event; it is acknowledged when this returns.
    fn on_event(&self, event: RelayEvent);
    /// The socket connected (`true`) or dropped (`false`; it will reconnect).
    fn on_connection_changed(&self, connected: bool);
}

/// The app's listener as the client's sink.
struct Sink(Arc<dyn EventListener>);

impl EventSink for Sink {
    fn on_event(&self, id: i64, kind: String, data: serde_json::Value) {
        self.0.on_event(RelayEvent {
            id,
            kind,
            data_json: data.to_string(),
        });
    }

    fn on_connection_changed(&self, connected: bool) {
        self.0.on_connection_changed(connected);
    }
}

/// A running event subscription; dropping it or calling `stop` closes the socket.
#[derive(uniffi::Object)]
pub struct EventSubscription {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    cursor: Arc<Cursor>,
}

#[uniffi::export]
impl EventSubscription {
    /// Stops listening and closes the socket.
    pub fn stop(&self) {
        if let Ok(mut task) = self.task.lock()
            && let Some(task) = task.take()
        {
            task.abort();
        }
    }

    /// The last event id whose acknowledgement the relay confirmed as stored
    /// (-1 before the first): a new subscription of this device without
    /// `after` resumes after it.
    pub fn last_acknowledged(&self) -> i64 {
        self.cursor.last_acknowledged()
    }
}

impl Drop for EventSubscription {
    fn drop(&mut self) {
        self.stop();
    }
}

#[uniffi::export]
impl RelayClient {
    /// Starts delivering this patient's events to `listener`. `device` names
    /// the relay's stored ack cursor (≤ 64 of `[A-Za-z0-9_-]`); `after`
    /// resumes after a known event id, else after the device's stored cursor.
    pub fn subscribe_events(
        &self,
        listener: Arc<dyn EventListener>,
        device: String,
        after: Option<i64>,
    ) -> Result<Arc<EventSubscription>, MobileError> {
        if device.len() > 64
            || !device
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(format!(
                "device: expected ≤ 64 of [A-Za-z0-9_-], found {device:?}"
            )));
        }
        if after.is_some_and(|a| a < 0) {
            return Err(invalid("after: expected an event id ≥ 0"));
        }
        let cursor = Arc::new(Cursor::new(after));
        let (client, sink, resume) = (self.0.clone(), Sink(listener), cursor.clone());
        let task = runtime::spawn_detached(async move {
            events::run(client.session(), &sink, &device, &resume).await;
        });
        Ok(Arc::new(EventSubscription {
            task: Mutex::new(Some(task)),
            cursor,
        }))
    }
}
