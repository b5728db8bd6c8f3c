//! A relay for push tests: a `TestApp` over a state with chosen push
//! settings, the same state served on a loopback port for WebSockets, the
//! outbox producer running, and WebSocket client helpers.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::web;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use carechain_api::db;
use carechain_api::push::{OutboxEvent, Push};
use carechain_api::relay::Relay;
use carechain_api::state::AppState;

use crate::support::{Actor, RelayApp, TestApp, init_with, start_with, test_config, test_relay};

/// A client socket.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A fresh state (temp SQLite, fresh ledger, initialised) with `push`.
pub async fn state_with(push: Push) -> (web::Data<AppState>, Actor, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (state, admin) = init_with(test_relay(test_config(dir.path())).push(push)).await;
    (state, admin, dir)
}

/// Serves `state` on a loopback port (for WebSockets) and starts the
/// producer and the Web Push worker (and, on PostgreSQL, the listener).
pub fn serve(state: &web::Data<AppState>) -> Relay {
    Relay::builder(state.config.clone())
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .workers(1)
        .disable_signals()
        .serve(state.clone())
        .unwrap()
}

/// A relay with `push` served on a loopback port (see [`serve`]) and the
/// in-process app over the same state.
pub async fn served(push: Push) -> (SocketAddr, TestApp<impl RelayApp>) {
    let (state, admin, dir) = state_with(push).await;
    let addr = serve(&state).addr();
    (addr, start_with(state, admin, Some(dir)).await)
}

/// Opens `/v1/events?{query}` with the token in the query.
pub async fn connect(addr: SocketAddr, token: &str, query: &str) -> Ws {
    let url = format!("ws://{addr}/v1/events?access_token={token}&{query}");
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next event frame (10 s at most), skipping control frames.
pub async fn next_event(ws: &mut Ws) -> Value {
    try_next_event(ws, Duration::from_secs(10))
        .await
        .expect("an event")
}

/// The next event frame within `wait`, if any.
pub async fn try_next_event(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = actix_web::rt::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(actix_web::rt::time::Instant::now());
        let frame = actix_web::rt::time::timeout(left, ws.next()).await.ok()??;
        match frame.ok()? {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(text.as_str()).ok()?;
                // Ack confirmations are not events.
                if value.get("acked").is_none() {
                    return Some(value);
                }
            }
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// Acknowledges `id` and waits (up to 10 s) for the relay's `{"acked": id}`,
/// its word that the cursor is stored; an event arriving first is a failure.
pub async fn ack(ws: &mut Ws, id: i64) {
    ws.send(Message::text(json!({ "ack": id }).to_string()))
        .await
        .unwrap();
    let wait = actix_web::rt::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).unwrap();
                    assert!(
                        value.get("kind").is_none(),
                        "expected the confirmation of ack {id}, found event {value}"
                    );
                    if value["acked"].as_i64() == Some(id) {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("the socket ended before ack {id} was confirmed: {other:?}"),
            }
        }
    });
    wait.await.expect("the relay confirms an ack within 10 s");
}

/// Waits (up to 10 s) until `actor` has at least `n` outbox rows after `after`.
pub async fn wait_rows(
    state: &web::Data<AppState>,
    actor: &str,
    after: i64,
    n: usize,
) -> Vec<OutboxEvent> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let who = actor.to_owned();
        let rows = db::run(&state.pool, move |c| {
            db::outbox::after(c, &who, after, 1000)
        })
        .await
        .unwrap();
        if rows.len() >= n || std::time::Instant::now() > deadline {
            return rows;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}
