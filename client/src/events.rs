//! The relay's live event socket (`/v1/events`), delivered to an
//! [`EventSink`] the caller implements (the phone's listener, a CLI's printer).
//!
//! Each `{"id", "kind", "data"}` frame is handed to the sink, and only after
//! the sink returns is it acknowledged with `{"ack": id}`, which moves the
//! relay's stored cursor for this device; the relay answers `{"acked": id}`
//! once that cursor is on disk. After a drop the socket reconnects (with
//! backoff, logging in again if the token expired), resumes after the last
//! event handed to the sink and re-sends that ack if the relay had not
//! confirmed it, so an event is delivered at least once and a duplicate id is
//! never handed to the sink twice by one [`Cursor`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::session::Session;

/// Receives relay events, one at a time.
pub trait EventSink: Send + Sync {
    /// A new event; it is acknowledged when this returns.
    fn on_event(&self, id: i64, kind: String, data: serde_json::Value);
    /// The socket connected (`true`) or dropped (`false`; it will reconnect).
    fn on_connection_changed(&self, connected: bool);
}

/// How far a subscription got.
#[derive(Debug)]
pub struct Cursor {
    /// The last event id handed to the sink (or resumed after); -1 before any.
    delivered: AtomicI64,
    /// The last ack the relay confirmed as stored; -1 before any.
    confirmed: AtomicI64,
}

impl Cursor {
    /// A cursor resuming after event `after`, or after the device's stored cursor.
    pub fn new(after: Option<i64>) -> Self {
        Cursor {
            delivered: AtomicI64::new(after.unwrap_or(-1)),
            confirmed: AtomicI64::new(-1),
        }
    }

    /// The last event id whose acknowledgement the relay confirmed as stored (-1 before any).
    pub fn last_acknowledged(&self) -> i64 {
        self.confirmed.load(Ordering::SeqCst)
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

/// Connects, delivers, and reconnects until the task is aborted.
pub async fn run(session: &Session, sink: &dyn EventSink, device: &str, cursor: &Cursor) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match connection(session, sink, device, cursor).await {
            // A session that got as far as connecting resets the backoff.
            Ok(()) => backoff = Duration::from_millis(250),
            Err(SessionError::Unauthorized) => session.forget_token(),
            Err(SessionError::Other) => {}
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Why a connection ended before connecting.
enum SessionError {
    /// The relay refused the token.
    Unauthorized,
    /// Anything else (network, relay down).
    Other,
}

/// One socket: connect, deliver every frame, acknowledge, until it drops.
async fn connection(
    session: &Session,
    sink: &dyn EventSink,
    device: &str,
    cursor: &Cursor,
) -> Result<(), SessionError> {
    let token = session
        .access_token()
        .await
        .map_err(|_| SessionError::Other)?;
    let mut url = session.url("v1/events").map_err(|_| SessionError::Other)?;
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
    sink.on_connection_changed(true);
    // An ack the last socket sent but the relay never confirmed (or the
    // `after` the app resumed from) is sent again, so the stored cursor
    // catches up with what the listener has seen.
    let delivered = cursor.delivered.load(Ordering::SeqCst);
    if delivered > cursor.confirmed.load(Ordering::SeqCst) {
        let ack = serde_json::json!({ "ack": delivered }).to_string();
        if socket.send(Message::text(ack)).await.is_err() {
            sink.on_connection_changed(false);
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
            sink.on_event(id, kind, data);
            cursor.delivered.fetch_max(id, Ordering::SeqCst);
        }
        let ack = serde_json::json!({ "ack": id }).to_string();
        if socket.send(Message::text(ack)).await.is_err() {
            break;
        }
    }
    sink.on_connection_changed(false);
    Ok(())
}
