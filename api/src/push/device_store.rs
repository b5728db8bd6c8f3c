//! Repository functions for native push (APNs, FCM): the device tokens of
//! each actor and the `push_device_deliveries` rows, one per outbox row and
//! device still to be announced — the same bookkeeping as
//! [`deliveries`](super::deliveries) keeps for Web Push (enqueued with the
//! outbox row, claimed by one worker at a time, retried, finished).

use diesel::prelude::*;

use crate::db::schema::{outbox, push_device_deliveries, push_devices};
use crate::db::{DbConnection, on_backend};
use crate::error::ApiError;

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = push_devices)]
pub struct DeviceRow {
    /// The service's token for the app install (APNs hex, FCM opaque).
    pub token: String,
    /// `apns` or `fcm`.
    pub platform: String,
    /// The app's bundle id (the APNs topic) or Android package name.
    pub app_id: String,
    /// The owning account.
    pub account_id: String,
    /// The owning actor.
    pub actor_id: String,
    /// When registered (Unix seconds).
    pub created_at: i64,
}

/// A pending native delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = push_device_deliveries)]
pub struct DeviceDeliveryRow {
    /// The outbox row announced.
    pub outbox_id: i64,
    /// The device token it goes to.
    pub token: String,
    /// The recipient actor.
    pub actor_id: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// When it is due next (Unix ms); while claimed, when the claim lapses.
    pub next_attempt_ms: i64,
    /// The last attempt's status (HTTP status, the service's reason, or `network`).
    pub last_status: Option<String>,
    /// When it was enqueued (Unix seconds).
    pub created_at: i64,
}

/// A due native delivery with its device and the event kind.
#[derive(Debug, Clone)]
pub struct DueDevice {
    /// The stored row.
    pub row: DeviceDeliveryRow,
    /// The device.
    pub device: DeviceRow,
    /// The outbox row's event kind (e.g. `access_requested`).
    pub kind: String,
}

/// Stores `row`, or moves an existing token to `row`'s owner and app (a
/// token names one app install; whoever last registered it from that
/// install owns it). Pending deliveries of a moved token are dropped so the
/// new owner never receives the old owner's events.
pub fn register(conn: &mut DbConnection, row: &DeviceRow) -> Result<(), ApiError> {
    crate::db::write(conn, |conn| {
        let existing: Option<DeviceRow> = push_devices::table
            .find(&row.token)
            .select(DeviceRow::as_select())
            .get_result(conn)
            .optional()?;
        if let Some(old) = existing {
            if old.actor_id != row.actor_id {
                diesel::delete(
                    push_device_deliveries::table
                        .filter(push_device_deliveries::token.eq(&row.token)),
                )
                .execute(conn)?;
            }
            diesel::update(push_devices::table.find(&row.token))
                .set((
                    push_devices::platform.eq(&row.platform),
                    push_devices::app_id.eq(&row.app_id),
                    push_devices::account_id.eq(&row.account_id),
                    push_devices::actor_id.eq(&row.actor_id),
                ))
                .execute(conn)?;
            return Ok(());
        }
        diesel::insert_into(push_devices::table)
            .values((
                push_devices::token.eq(&row.token),
                push_devices::platform.eq(&row.platform),
                push_devices::app_id.eq(&row.app_id),
                push_devices::account_id.eq(&row.account_id),
                push_devices::actor_id.eq(&row.actor_id),
                push_devices::created_at.eq(row.created_at),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Removes `account`'s device `token` and its pending deliveries; false if
/// the account has no such device.
pub fn unregister(conn: &mut DbConnection, account: &str, token: &str) -> Result<bool, ApiError> {
    crate::db::write(conn, |conn| {
        let owned = push_devices::table
            .find(token)
            .filter(push_devices::account_id.eq(account))
            .select(push_devices::token)
            .get_result::<String>(conn)
            .optional()?;
        if owned.is_none() {
            return Ok(false);
        }
        remove_in(conn, token)?;
        Ok(true)
    })
}

/// Removes a device (e.g. one the service reported gone) and its pending deliveries.
pub fn remove(conn: &mut DbConnection, token: &str) -> Result<(), ApiError> {
    crate::db::write(conn, |conn| remove_in(conn, token))
}

fn remove_in(conn: &mut DbConnection, token: &str) -> Result<(), ApiError> {
    diesel::delete(push_device_deliveries::table.filter(push_device_deliveries::token.eq(token)))
        .execute(conn)?;
    diesel::delete(push_devices::table.find(token)).execute(conn)?;
    Ok(())
}

/// The devices of `actor`, oldest first.
pub fn devices(conn: &mut DbConnection, actor: &str) -> Result<Vec<DeviceRow>, ApiError> {
    Ok(push_devices::table
        .filter(push_devices::actor_id.eq(actor))
        .order(push_devices::created_at.asc())
        .select(DeviceRow::as_select())
        .load(conn)?)
}

/// Enqueues outbox row `outbox_id` for every device of `actor`, due at
/// `now_ms`; call inside the transaction that inserts the outbox row.
pub fn enqueue(
    conn: &mut DbConnection,
    outbox_id: i64,
    actor: &str,
    now_ms: i64,
    now: i64,
) -> Result<usize, ApiError> {
    let tokens: Vec<String> = on_backend!(conn, |c| push_devices::table
        .filter(push_devices::actor_id.eq(actor))
        .select(push_devices::token)
        .load(c))?;
    for token in &tokens {
        on_backend!(conn, |c| diesel::insert_into(push_device_deliveries::table)
            .values((
                push_device_deliveries::outbox_id.eq(outbox_id),
                push_device_deliveries::token.eq(token),
                push_device_deliveries::actor_id.eq(actor),
                push_device_deliveries::attempts.eq(0),
                push_device_deliveries::next_attempt_ms.eq(now_ms),
                push_device_deliveries::created_at.eq(now),
            ))
            .execute(c))?;
    }
    Ok(tokens.len())
}

/// Up to `limit` native deliveries due at `now_ms`, the longest-waiting first.
pub fn due(conn: &mut DbConnection, now_ms: i64, limit: i64) -> Result<Vec<DueDevice>, ApiError> {
    let rows: Vec<(DeviceDeliveryRow, DeviceRow, String)> = push_device_deliveries::table
        .inner_join(push_devices::table)
        .inner_join(outbox::table.on(outbox::id.eq(push_device_deliveries::outbox_id)))
        .filter(push_device_deliveries::next_attempt_ms.le(now_ms))
        .order((
            push_device_deliveries::next_attempt_ms.asc(),
            push_device_deliveries::outbox_id.asc(),
        ))
        .limit(limit)
        .select((
            DeviceDeliveryRow::as_select(),
            DeviceRow::as_select(),
            outbox::kind,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(row, device, kind)| DueDevice { row, device, kind })
        .collect())
}

/// Claims `row` until `until_ms` if no other worker changed it since it was
/// read; false if one did.
pub fn claim(
    conn: &mut DbConnection,
    row: &DeviceDeliveryRow,
    until_ms: i64,
) -> Result<bool, ApiError> {
    let n = diesel::update(
        push_device_deliveries::table
            .find((row.outbox_id, &row.token))
            .filter(push_device_deliveries::next_attempt_ms.eq(row.next_attempt_ms))
            .filter(push_device_deliveries::attempts.eq(row.attempts)),
    )
    .set(push_device_deliveries::next_attempt_ms.eq(until_ms))
    .execute(conn)?;
    Ok(n == 1)
}

/// Removes a delivery that is done (sent, given up, or no longer needed).
pub fn finish(conn: &mut DbConnection, outbox_id: i64, token: &str) -> Result<(), ApiError> {
    diesel::delete(push_device_deliveries::table.find((outbox_id, token))).execute(conn)?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub fn retry_at(
    conn: &mut DbConnection,
    row: &DeviceDeliveryRow,
    attempts: i32,
    next_ms: i64,
    status: &str,
) -> Result<(), ApiError> {
    diesel::update(push_device_deliveries::table.find((row.outbox_id, &row.token)))
        .set((
            push_device_deliveries::attempts.eq(attempts),
            push_device_deliveries::next_attempt_ms.eq(next_ms),
            push_device_deliveries::last_status.eq(status),
        ))
        .execute(conn)?;
    Ok(())
}

/// When the earliest pending native delivery is due (Unix ms), if any.
pub fn next_due(conn: &mut DbConnection) -> Result<Option<i64>, ApiError> {
    Ok(push_device_deliveries::table
        .select(diesel::dsl::min(push_device_deliveries::next_attempt_ms))
        .get_result(conn)?)
}

/// Every pending native delivery, oldest first (operators and tests).
pub fn pending(conn: &mut DbConnection) -> Result<Vec<DeviceDeliveryRow>, ApiError> {
    Ok(push_device_deliveries::table
        .order((
            push_device_deliveries::outbox_id.asc(),
            push_device_deliveries::token.asc(),
        ))
        .select(DeviceDeliveryRow::as_select())
        .load(conn)?)
}
