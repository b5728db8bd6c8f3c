//! `GET /v1/events`: the live event socket.
//!
//! Authentication: the access token as `Authorization: Bearer …`, or — for
//! browsers, whose WebSocket API cannot set headers — as the
//! `?access_token=` query parameter (the request log records the route
//! pattern only, never the query). On connect the server sends every outbox
//! row of the caller's actor with an id greater than `?after=` (or, if
//! absent, the stored ack cursor of `?device=`, default ""), then live rows,
//! each as `{"id", "kind", "data"}` text frames in id order. The client
//! acknowledges with `{"ack": id}`, which moves the device's cursor; once
//! that cursor is durably stored the server answers `{"acked": id}`, so a
//! client knows which of its acknowledgements will survive a reconnect. The
//! server pings every 20 s and closes a socket silent for 60 s.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, get, web};
use actix_ws::{Message, MessageStream, Session};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::db;
use crate::error::ApiError;
use crate::push::hub::Subscription;
use crate::push::{presence, store};
use crate::state::AppState;

/// How often the server pings.
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// How long a socket may stay silent before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Rows read from the database per batch.
const BATCH: i64 = 128;
/// The largest frame accepted from a client.
const MAX_FRAME: usize = 1024;

/// Query parameters of `/v1/events`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// Resume after this outbox id (the last one acknowledged).
    pub after: Option<i64>,
    /// The access token, for clients that cannot send headers.
    pub access_token: Option<String>,
    /// A device label for the stored ack cursor (≤ 64 of `[A-Za-z0-9_-]`).
    pub device: Option<String>,
}

/// A client frame.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ack {
    ack: i64,
}

/// Opens the event socket.
#[utoipa::path(operation_id = "events_socket", tag = "push", security(("bearer" = [])), params(EventsQuery),
    responses((status = 101, description = "WebSocket of {id, kind, data} event frames and {acked} confirmations of stored acks"),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
#[get("/v1/events")]
pub async fn events(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let token = header
        .or(query.access_token.as_deref())
        .ok_or_else(|| ApiError::Unauthorized("expected an access token".into()))?;
    let claims = state.jwt.verify(token)?;
    let actor = claims
        .act
        .ok_or_else(|| ApiError::forbidden("this account has no ledger identity yet"))?;
    let device = query.device.unwrap_or_default();
    if device.len() > 64
        || !device
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::bad_request(
            "device must be ≤ 64 of [A-Za-z0-9_-]",
        ));
    }
    let start = match query.after {
        Some(after) if after >= 0 => after,
        Some(_) => return Err(ApiError::bad_request("after must be ≥ 0")),
        None => {
            let (a, d) = (actor.clone(), device.clone());
            db::run(&state.pool, move |c| store::acked(c, &a, &d)).await?
        }
    };
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request(format!("not a WebSocket upgrade: {e}")))?;
    // Subscribe before reading the backlog, so no row falls in between.
    let sub = state.push.hub.subscribe(&actor);
    // Other relays on this database send this actor no Web Push meanwhile
    // (a database no other relay shares needs no record: the hub knows).
    let socket = if state.shared_database {
        let id = uuid::Uuid::new_v4().to_string();
        let (row, relay, who) = (id.clone(), state.push.instance.clone(), actor.clone());
        db::run(&state.pool, move |c| {
            presence::opened(c, &row, &relay, &who)
        })
        .await?;
        Some(id)
    } else {
        None
    };
    let conn = Conn {
        socket,
        state: state.clone(),
        actor,
        device,
        last_sent: start,
        session,
    };
    actix_web::rt::spawn(conn.run(stream.max_frame_size(MAX_FRAME), sub));
    Ok(response)
}

/// One open socket.
struct Conn {
    /// The socket's presence row, on a database other relays share.
    socket: Option<String>,
    state: web::Data<AppState>,
    actor: String,
    device: String,
    last_sent: i64,
    session: Session,
}

impl Conn {
    async fn run(mut self, mut stream: MessageStream, mut sub: Subscription) {
        let mut last_heard = Instant::now();
        let mut beat = actix_web::rt::time::interval_at(
            actix_web::rt::time::Instant::now() + HEARTBEAT,
            HEARTBEAT,
        );
        let mut open = self.flush().await.is_ok();
        while open {
            tokio::select! {
                msg = stream.recv() => {
                    last_heard = Instant::now();
                    open = match msg {
                        Some(Ok(Message::Text(text))) => self.on_text(&text).await,
                        Some(Ok(Message::Ping(bytes))) => self.session.pong(&bytes).await.is_ok(),
                        Some(Ok(Message::Pong(_) | Message::Binary(_) | Message::Nop)) => true,
                        Some(Ok(Message::Continuation(_))) => false,
                        Some(Ok(Message::Close(_)) | Err(_)) | None => false,
                    };
                }
                changed = sub.rx.changed() => {
                    open = changed.is_ok() && self.flush().await.is_ok();
                }
                _ = beat.tick() => {
                    open = last_heard.elapsed() < IDLE_TIMEOUT && self.session.ping(b"").await.is_ok();
                }
            }
        }
        drop(sub);
        let _ = self.session.close(None).await;
        if let Some(id) = self.socket.take()
            && let Err(e) = db::run(&self.state.pool, move |c| presence::closed(c, &id)).await
        {
            tracing::warn!(error = %e, "cannot remove a closed socket's presence row");
        }
    }

    /// Sends every row after `last_sent`, in order.
    async fn flush(&mut self) -> Result<(), ApiError> {
        loop {
            let (actor, after) = (self.actor.clone(), self.last_sent);
            let rows = db::run(&self.state.pool, move |c| {
                db::outbox::after(c, &actor, after, BATCH)
            })
            .await?;
            let n = rows.len();
            for row in rows {
                let data: Value = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
                let frame = json!({"id": row.id, "kind": row.kind, "data": data}).to_string();
                self.session
                    .text(frame)
                    .await
                    .map_err(|_| ApiError::unavailable("socket closed"))?;
                self.last_sent = row.id;
            }
            if n < BATCH as usize {
                return Ok(());
            }
        }
    }

    /// Handles a client frame; false closes the socket.
    async fn on_text(&mut self, text: &str) -> bool {
        let Ok(Ack { ack }) = serde_json::from_str::<Ack>(text) else {
            tracing::debug!("ignoring a malformed client frame");
            return true;
        };
        if ack < 0 || ack > self.last_sent {
            tracing::debug!("ignoring an ack beyond what was sent");
            return true;
        }
        let (actor, device) = (self.actor.clone(), self.device.clone());
        match db::run(&self.state.pool, move |c| {
            store::ack(c, &actor, &device, ack, db::now())
        })
        .await
        {
            Ok(()) => self
                .session
                .text(json!({ "acked": ack }).to_string())
                .await
                .is_ok(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot store an ack; closing the socket");
                false
            }
        }
    }
}
