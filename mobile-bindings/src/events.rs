//! The relay's live event socket (`/v1/events`) fed to an [`EventListener`]
//! the app implements.
//!
//! Each `{"id", "kind", "data"}` frame is handed to the listener, and only
//! after the listener returns is it acknowledged with `{"ack": id}`, which
//! moves the relay's stored cursor for this device. After a drop the socket
//! reconnects (with backoff, logging in again if the token expired) and
//! resumes after the last acknowledged id, so an event is delivered at least
//! once and a duplicate id is never handed to the listener twice by one
//! subscription.

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
    last_acked: Arc<AtomicI64>,
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

    /// The last event id acknowledged (-1 before the first).
    pub fn last_acknowledged(&self) -> i64 {
        self.last_acked.load(Ordering::SeqCst)
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
        let last_acked = Arc::new(AtomicI64::new(after.unwrap_or(-1)));
        let task = runtime::spawn_detached(run(
            self.inner.clone(),
            listener,
            device,
            last_acked.clone(),
        ));
        Ok(Arc::new(EventSubscription {
            task: Mutex::new(Some(task)),
            last_acked,
        }))
    }
}

/// A frame from the relay.
#[derive(Deserialize)]
struct Frame {
    id: i64,
    kind: String,
    data: serde_json::Value,
}

/// Connects, delivers, and reconnects until aborted.
async fn run(
    inner: Arc<Inner>,
    listener: Arc<dyn EventListener>,
    device: String,
    last_acked: Arc<AtomicI64>,
) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match session(&inner, listener.as_ref(), &device, &last_acked).await {
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
    last_acked: &AtomicI64,
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
        let acked = last_acked.load(Ordering::SeqCst);
        if acked >= 0 {
            query.append_pair("after", &acked.to_string());
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
    while let Some(message) = socket.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let Ok(frame) = serde_json::from_str::<Frame>(&text) else {
            continue;
        };
        if frame.id > last_acked.load(Ordering::SeqCst) {
            listener.on_event(RelayEvent {
                id: frame.id,
                kind: frame.kind,
                data_json: frame.data.to_string(),
            });
        }
        let ack = serde_json::json!({ "ack": frame.id }).to_string();
        if socket.send(Message::text(ack)).await.is_err() {
            break;
        }
        last_acked.fetch_max(frame.id, Ordering::SeqCst);
    }
    listener.on_connection_changed(false);
    Ok(())
}
