//! The relay's live event socket (`/v1/events`) fed to an [`EventListener`]
//! the app implements.
//!
//! Each `{"id", "kind", "data"}` frame is handed to the listener, and only
//! after the listener returns is it acknowledged with `{"ack": id}`, which
//! moves the relay's stored cursor for this device; the relay answers
//! `{"acked": id}` once that cursor is on disk. After a drop the socket
//! reconnects (with backoff, logging in again if the token expired), resumes
//! after the last event handed to the listener and re-sends that ack if the
//! relay had not confirmed it, so an event is delivered at least once and a
//! duplicate id is never handed to the listener twice by one subscription.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::client::{Inner, RelayClient};
use crate::error::{MobileError, invalid};
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

/// A running event subscription; dropping it or calling `stop` closes the socket.
#[derive(uniffi::Object)]
pub struct EventSubscription {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    cursor: Arc<Cursor>,
}

/// How far a subscription got.
#[derive(Debug)]
struct Cursor {
    /// The last event id handed to the listener (or resumed after); -1 before any.
    delivered: AtomicI64,
    /// The last ack the relay confirmed as stored; -1 before any.
    confirmed: AtomicI64,
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
        self.cursor.confirmed.load(Ordering::SeqCst)
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
        let cursor = Arc::new(Cursor {
            delivered: AtomicI64::new(after.unwrap_or(-1)),
            confirmed: AtomicI64::new(-1),
        });
        let task =
            runtime::spawn_detached(run(self.inner.clone(), listener, device, cursor.clone()));
        Ok(Arc::new(EventSubscription {
            task: Mutex::new(Some(task)),
            cursor,
        }))
    }
}

/// A frame from the relay: an event, or the confirmation of a stored ack.
#[derive(Deserialize)]
#[serde(untagged)]
enum Frame {
    /// An event.
    Event {
        id: i64,
        kind: String,
        data: serde_json::Value,
    },
    /// The relay stored the device's cursor at `acked`.
    Acked { acked: i64 },
}

/// Connects, delivers, and reconnects until aborted.
async fn run(
    inner: Arc<Inner>,
    listener: Arc<dyn EventListener>,
    device: String,
    cursor: Arc<Cursor>,
) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match session(&inner, listener.as_ref(), &device, &cursor).await {
            // A session that got as far as connecting resets the backoff.
            Ok(()) => backoff = Duration::from_millis(250),
            Err(SessionError::Unauthorized) => inner.forget_token(),
            Err(SessionError::Other) => {}
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Why a session ended before connecting.
enum SessionError {
    /// The relay refused the token.
    Unauthorized,
    /// Anything else (network, relay down).
    Other,
}

/// One socket: connect, deliver every frame, acknowledge, until it drops.
async fn session(
    inner: &Inner,
    listener: &dyn EventListener,
    device: &str,
    cursor: &Cursor,
) -> Result<(), SessionError> {
    let token = inner
        .access_token()
        .await
        .map_err(|_| SessionError::Other)?;
    let mut url = inner.url("v1/events").map_err(|_| SessionError::Other)?;
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme).map_err(|()| SessionError::Other)?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("device", device);
        let delivered = cursor.delivered.load(Ordering::SeqCst);
        if delivered >= 0 {
            query.append_pair("after", &delivered.to_string());
        }
    }
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|_| SessionError::Other)?;
    let bearer = format!("Bearer {token}")
        .parse()
        .map_err(|_| SessionError::Other)?;
    request.headers_mut().insert("Authorization", bearer);
    let (mut socket, _) = match tokio_tungstenite::connect_async(request).await {
        Ok(ok) => ok,
        Err(tungstenite::Error::Http(res)) if res.status().as_u16() == 401 => {
            return Err(SessionError::Unauthorized);
        }
        Err(_) => return Err(SessionError::Other),
    };
    listener.on_connection_changed(true);
    // An ack the last socket sent but the relay never confirmed (or the
    // `after` the app resumed from) is sent again, so the stored cursor
    // catches up with what the listener has seen.
    let delivered = cursor.delivered.load(Ordering::SeqCst);
    if delivered > cursor.confirmed.load(Ordering::SeqCst) {
        let ack = serde_json::json!({ "ack": delivered }).to_string();
        if socket.send(Message::text(ack)).await.is_err() {
            listener.on_connection_changed(false);
            return Ok(());
        }
    }
    while let Some(message) = socket.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let (id, kind, data) = match serde_json::from_str::<Frame>(&text) {
            Ok(Frame::Event { id, kind, data }) => (id, kind, data),
            Ok(Frame::Acked { acked }) => {
                cursor.confirmed.fetch_max(acked, Ordering::SeqCst);
                continue;
            }
            Err(_) => continue,
        };
        if id > cursor.delivered.load(Ordering::SeqCst) {
            listener.on_event(RelayEvent {
                id,
                kind,
                data_json: data.to_string(),
            });
            cursor.delivered.fetch_max(id, Ordering::SeqCst);
        }
        let ack = serde_json::json!({ "ack": id }).to_string();
        if socket.send(Message::text(ack)).await.is_err() {
            break;
        }
    }
    listener.on_connection_changed(false);
    Ok(())
}
