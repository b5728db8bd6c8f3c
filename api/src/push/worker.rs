//! The Web Push worker: sends the due rows of `push_deliveries`, retrying
//! what can succeed later and forgetting what cannot.
//!
//! Per delivery: skipped (deleted) when the actor has a socket open on this
//! relay or a device acknowledged the event already — the socket delivers
//! it; otherwise claimed for [`CLAIM`] (so another relay process on the same
//! database leaves it alone), its endpoint checked again against the SSRF
//! policy ([`endpoint`]; a refused one removes the subscription, one that
//! does not resolve is retried), encrypted, signed and sent once to the
//! checked addresses only. Then:
//! 2xx → deleted; 404/410 → the subscription is removed (its deliveries with
//! it); 429, 5xx or a transport error → tried again after an exponential
//! backoff with jitter, or after the service's `Retry-After` if that is
//! longer, until [`PushConfig::max_attempts`] attempts, then given up and
//! logged; another 4xx → given up and logged. Logs name the subscription and
//! outbox ids and the status, never the endpoint URL (a bearer capability)
//! or keys. Pending rows are in the database, so a restarted relay resumes
//! them.

use std::time::Duration;

use actix_web::web;
use futures::StreamExt as _;
use rand::Rng as _;

use crate::db;
use crate::error::ApiError;
use crate::push::deliveries::{self, Due};
use crate::push::endpoint::{self, EndpointError};
use crate::push::webpush::{self, Outcome, PushError};
use crate::push::{PushConfig, store};
use crate::state::AppState;

/// How long a claimed delivery is left to its worker (longer than the HTTP timeout).
pub const CLAIM: Duration = Duration::from_secs(60);
/// The HTTP timeout of one send.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest sleep between looks at the table (deliveries of other processes).
const POLL: Duration = Duration::from_secs(5);
/// Deliveries read per batch.
const BATCH: i64 = 64;
/// Sends in flight at once.
const CONCURRENCY: usize = 16;

/// The delay before attempt `attempts + 1`: `base · 2^(attempts-1)` capped at
/// `max`, with "equal jitter" (uniform in its upper half) so that many
/// failed pushes do not come back at the same instant.
pub fn backoff(config: &PushConfig, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let full = config
        .retry_base
        .saturating_mul(1u32 << exp)
        .min(config.retry_max);
    let half = full / 2;
    half + half.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
}

/// Runs the worker until the process ends (or the task is aborted).
pub async fn run(state: web::Data<AppState>) {
    if state.push.vapid.is_none() {
        tracing::info!("no VAPID key: Web Push is off");
        return;
    }
    loop {
        let wait = match round(&state).await {
            Ok(Some(next_ms)) => {
                let ms = u64::try_from(next_ms - db::now_ms()).unwrap_or(0);
                Duration::from_millis(ms).min(POLL)
            }
            Ok(None) => POLL,
            Err(e) => {
                tracing::warn!(error = %e, "web push worker failed; retrying");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = state.push.wake.notified() => {}
            () = actix_web::rt::time::sleep(wait) => {}
        }
    }
}

/// Sends every due delivery; returns when the next pending one is due.
async fn round(state: &web::Data<AppState>) -> Result<Option<i64>, ApiError> {
    loop {
        let now = db::now_ms();
        let batch = db::run(&state.pool, move |c| deliveries::due(c, now, BATCH)).await?;
        if batch.is_empty() {
            return db::run(&state.pool, deliveries::next_due).await;
        }
        futures::stream::iter(batch)
            .for_each_concurrent(CONCURRENCY, |due| async move {
                let (outbox, subscription) = (due.row.outbox_id, due.row.subscription_id.clone());
                if let Err(e) = attempt(state, due).await {
                    tracing::warn!(error = %e, outbox, %subscription, "web push attempt failed");
                }
            })
            .await;
    }
}

/// One delivery: skip, or claim, send and record the outcome.
async fn attempt(state: &web::Data<AppState>, due: Due) -> Result<(), ApiError> {
    let row = due.row.clone();
    let now = db::now_ms();
    let until = now + i64::try_from(CLAIM.as_millis()).unwrap_or(60_000);
    let claimed = {
        let row = row.clone();
        let st = state.clone();
        db::run(&state.pool, move |c| {
            let online = st.push.online(c, &row.actor_id, st.shared_database)?;
            let acked = deliveries::acked_by_any_device(c, &row.actor_id)? >= row.outbox_id;
            if online || acked {
                deliveries::finish(c, row.outbox_id, &row.subscription_id)?;
                return Ok(false);
            }
            deliveries::claim(c, &row, until)
        })
        .await?
    };
    if !claimed {
        return Ok(());
    }
    // Checked again at every send: the host may resolve elsewhere by now.
    // The request then goes to the checked addresses only.
    let checked = match endpoint::check(&due.endpoint, &state.push.config.allow).await {
        Ok(checked) => checked,
        Err(EndpointError::Unresolved) => {
            let outcome = Outcome::Retry {
                status: "dns".into(),
                retry_after: None,
            };
            return record(state, row, outcome).await;
        }
        Err(e) => {
            tracing::warn!(error = %e, subscription = %row.subscription_id, "push endpoint refused at send; subscription removed");
            return db::run(&state.pool, move |c| store::remove(c, &row.subscription_id)).await;
        }
    };
    let outcome = match prepare(state, &due, &checked.origin) {
        Ok((body, auth)) => match endpoint::pinned_client(&checked, SEND_TIMEOUT) {
            Ok(http) => {
                webpush::send_once(&http, checked.url, &auth, body, state.push.config.ttl_secs)
                    .await
            }
            Err(e) => {
                return Err(ApiError::internal(format!(
                    "push client: {}",
                    e.without_url()
                )));
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, subscription = %row.subscription_id, "cannot prepare a push; dropped");
            return db::run(&state.pool, move |c| {
                deliveries::finish(c, row.outbox_id, &row.subscription_id)
            })
            .await;
        }
    };
    record(state, row, outcome).await
}

/// The encrypted body and the VAPID `Authorization` header for `due`.
fn prepare(state: &AppState, due: &Due, origin: &str) -> Result<(Vec<u8>, String), PushError> {
    let config = &state.push.config;
    let vapid = state
        .push
        .vapid
        .as_ref()
        .ok_or(PushError::Key("is not configured".into()))?;
    let ua = webpush::parse_p256dh(&webpush::b64(&due.p256dh)?)?;
    let plaintext = serde_json::json!({ "id": due.row.outbox_id }).to_string();
    let body = webpush::encrypt_fresh(plaintext.as_bytes(), &ua, &webpush::b64(&due.auth)?)?;
    let auth = vapid.authorization(origin, &config.subject, db::now(), 12 * 3600)?;
    Ok((body, auth))
}

/// Stores what an attempt came to.
async fn record(
    state: &web::Data<AppState>,
    row: deliveries::DeliveryRow,
    outcome: Outcome,
) -> Result<(), ApiError> {
    let (outbox, subscription) = (row.outbox_id, row.subscription_id.clone());
    let attempts = row.attempts.saturating_add(1);
    match outcome {
        Outcome::Delivered => {
            tracing::debug!(outbox, %subscription, attempts, "web push delivered");
            db::run(&state.pool, move |c| {
                deliveries::finish(c, row.outbox_id, &row.subscription_id)
            })
            .await
        }
        Outcome::Gone => {
            tracing::info!(%subscription, "push subscription gone; removed");
            db::run(&state.pool, move |c| store::remove(c, &row.subscription_id)).await
        }
        Outcome::Refused { status } => {
            tracing::warn!(outbox, %subscription, status, attempts, "push service refused the message; dropped");
            db::run(&state.pool, move |c| {
                deliveries::finish(c, row.outbox_id, &row.subscription_id)
            })
            .await
        }
        Outcome::Retry {
            status,
            retry_after,
        } => {
            let config = &state.push.config;
            if u32::try_from(attempts).unwrap_or(u32::MAX) >= config.max_attempts {
                tracing::warn!(outbox, %subscription, %status, attempts, "web push given up");
                return db::run(&state.pool, move |c| {
                    deliveries::finish(c, row.outbox_id, &row.subscription_id)
                })
                .await;
            }
            let wait = backoff(config, u32::try_from(attempts).unwrap_or(1)).max(
                retry_after
                    .unwrap_or(Duration::ZERO)
                    .min(config.retry_after_max),
            );
            let next = db::now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
            tracing::debug!(outbox, %subscription, %status, attempts, wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "web push will be retried");
            db::run(&state.pool, move |c| {
                deliveries::retry_at(c, &row, attempts, next, &status)
            })
            .await
        }
    }
}
