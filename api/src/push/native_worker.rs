//! The native push worker: sends the due rows of `push_device_deliveries`
//! to APNs or FCM, with the same rules as the Web Push
//! [`worker`](super::worker).
//!
//! Per delivery: skipped (deleted) when the actor has a socket open (here,
//! or on another relay sharing the database) or a device acknowledged the
//! event already; otherwise claimed for [`CLAIM`] and sent once. Then:
//! delivered → deleted; the token gone (APNs 410, `BadDeviceToken`,
//! `Unregistered`; FCM 404, `UNREGISTERED`) → the device is removed with
//! its deliveries; 429, 5xx, a stale credential or a transport error →
//! tried again after the backoff or the service's `Retry-After`, until the
//! attempts run out; another refusal → given up. A device of a platform
//! whose sender is off is skipped. Logs name the outbox id and platform,
//! never the token.

use actix_web::web;
use futures::StreamExt as _;

use crate::db;
use crate::error::ApiError;
use crate::push::device_store::{self, DeviceDeliveryRow, DueDevice};
use crate::push::native::{Notification, Platform};
use crate::push::webpush::Outcome;
use crate::push::worker::{CLAIM, drive, retry_wait};
use crate::state::AppState;

/// Deliveries read per batch.
const BATCH: i64 = 64;
/// Sends in flight at once (HTTP/2 multiplexes them on one connection per service).
const CONCURRENCY: usize = 32;

/// Runs the worker until the process ends (at once when no sender is configured).
pub async fn run(state: web::Data<AppState>) {
    if !state.push.native.is_on() {
        tracing::info!("no APNs or FCM credentials: native push is off");
        return;
    }
    drive(&state.push.native.wake, "native push", || round(&state)).await;
}

/// Sends every due delivery; returns when the next pending one is due.
async fn round(state: &web::Data<AppState>) -> Result<Option<i64>, ApiError> {
    loop {
        let now = db::now_ms();
        let batch = db::run(&state.pool, move |c| device_store::due(c, now, BATCH)).await?;
        if batch.is_empty() {
            return db::run(&state.pool, device_store::next_due).await;
        }
        futures::stream::iter(batch)
            .for_each_concurrent(CONCURRENCY, |due| async move {
                let (outbox, platform) = (due.row.outbox_id, due.device.platform.clone());
                if let Err(e) = attempt(state, due).await {
                    tracing::warn!(error = %e, outbox, %platform, "native push attempt failed");
                }
            })
            .await;
    }
}

/// One delivery: skip, or claim, send and record the outcome.
async fn attempt(state: &web::Data<AppState>, due: DueDevice) -> Result<(), ApiError> {
    let row = due.row.clone();
    let until = db::now_ms() + i64::try_from(CLAIM.as_millis()).unwrap_or(60_000);
    let claimed = {
        let row = row.clone();
        let st = state.clone();
        db::run(&state.pool, move |c| {
            let online = st.push.online(c, &row.actor_id, st.shared_database)?;
            let acked =
                crate::push::deliveries::acked_by_any_device(c, &row.actor_id)? >= row.outbox_id;
            if online || acked {
                device_store::finish(c, row.outbox_id, &row.token)?;
                return Ok(false);
            }
            device_store::claim(c, &row, until)
        })
        .await?
    };
    if !claimed {
        return Ok(());
    }
    let native = &state.push.native;
    let note = Notification {
        outbox_id: row.outbox_id,
        kind: due.kind.clone(),
    };
    let alert = native.alerts.for_kind(&due.kind);
    let now = db::now();
    let outcome = match (
        Platform::parse(&due.device.platform),
        &native.apns,
        &native.fcm,
    ) {
        (Some(Platform::Apns), Some(apns), _) => {
            apns.send(&row.token, &due.device.app_id, &note, &alert, now)
                .await
        }
        (Some(Platform::Fcm), _, Some(fcm)) => fcm.send(&row.token, &note, &alert, now).await,
        _ => {
            tracing::debug!(outbox = row.outbox_id, platform = %due.device.platform, "no sender for this platform; skipped");
            return db::run(&state.pool, move |c| {
                device_store::finish(c, row.outbox_id, &row.token)
            })
            .await;
        }
    };
    record(state, row, &due.device.platform, outcome).await
}

/// Stores what an attempt came to.
async fn record(
    state: &web::Data<AppState>,
    row: DeviceDeliveryRow,
    platform: &str,
    outcome: Outcome,
) -> Result<(), ApiError> {
    let outbox = row.outbox_id;
    let attempts = row.attempts.saturating_add(1);
    match outcome {
        Outcome::Delivered => {
            tracing::debug!(outbox, platform, attempts, "native push delivered");
            db::run(&state.pool, move |c| {
                device_store::finish(c, row.outbox_id, &row.token)
            })
            .await
        }
        Outcome::Gone => {
            tracing::info!(outbox, platform, "device token gone; device removed");
            db::run(&state.pool, move |c| device_store::remove(c, &row.token)).await
        }
        Outcome::Refused { status } => {
            tracing::warn!(
                outbox,
                platform,
                status,
                attempts,
                "push service refused the message; dropped"
            );
            db::run(&state.pool, move |c| {
                device_store::finish(c, row.outbox_id, &row.token)
            })
            .await
        }
        Outcome::Retry {
            status,
            retry_after,
        } => {
            let Some(wait) = retry_wait(&state.push.config, attempts, retry_after) else {
                tracing::warn!(outbox, platform, %status, attempts, "native push given up");
                return db::run(&state.pool, move |c| {
                    device_store::finish(c, row.outbox_id, &row.token)
                })
                .await;
            };
            let next = db::now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
            tracing::debug!(outbox, platform, %status, attempts, "native push will be retried");
            db::run(&state.pool, move |c| {
                device_store::retry_at(c, &row, attempts, next, &status)
            })
            .await
        }
    }
}
