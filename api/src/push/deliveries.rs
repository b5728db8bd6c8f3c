//! Repository functions for durable Web Push: the `push_deliveries` rows
//! (one per outbox row and subscription still to be announced), what is due,
//! the claim that keeps two workers (two relay processes) from sending the
//! same one at once, and the outcome of an attempt.

use diesel::prelude::*;

use crate::db::schema::{push_acks, push_deliveries, push_subscriptions};
use crate::db::{DbConnection, on_backend};
use crate::error::ApiError;

/// A pending delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = push_deliveries)]
pub struct DeliveryRow {
    /// The outbox row announced (the push carries only this id).
    pub outbox_id: i64,
    /// The subscription it goes to.
    pub subscription_id: String,
    /// The recipient actor.
    pub actor_id: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// When it is due next (Unix ms); while claimed, when the claim lapses.
    pub next_attempt_ms: i64,
    /// The last attempt's HTTP status, or `network`.
    pub last_status: Option<String>,
    /// When it was enqueued (Unix seconds).
    pub created_at: i64,
}

/// A due delivery with where and how to send it.
#[derive(Debug, Clone)]
pub struct Due {
    /// The stored row.
    pub row: DeliveryRow,
    /// The push service URL.
    pub endpoint: String,
    /// The user agent's public key, base64url.
    pub p256dh: String,
    /// The auth secret, base64url.
    pub auth: String,
}

/// Enqueues outbox row `outbox_id` for every subscription of `actor`, due at
/// `now_ms`; call inside the transaction that inserts the outbox row.
pub fn enqueue(
    conn: &mut DbConnection,
    outbox_id: i64,
    actor: &str,
    now_ms: i64,
    now: i64,
) -> Result<usize, ApiError> {
    let subscriptions: Vec<String> = on_backend!(conn, |c| push_subscriptions::table
        .filter(push_subscriptions::actor_id.eq(actor))
        .select(push_subscriptions::id)
        .load(c))?;
    for id in &subscriptions {
        on_backend!(conn, |c| diesel::insert_into(push_deliveries::table)
            .values((
                push_deliveries::outbox_id.eq(outbox_id),
                push_deliveries::subscription_id.eq(id),
                push_deliveries::actor_id.eq(actor),
                push_deliveries::attempts.eq(0),
                push_deliveries::next_attempt_ms.eq(now_ms),
                push_deliveries::created_at.eq(now),
            ))
            .execute(c))?;
    }
    Ok(subscriptions.len())
}

/// Up to `limit` deliveries due at `now_ms`, the longest-waiting first.
pub fn due(conn: &mut DbConnection, now_ms: i64, limit: i64) -> Result<Vec<Due>, ApiError> {
    let rows: Vec<(DeliveryRow, (String, String, String))> = push_deliveries::table
        .inner_join(push_subscriptions::table)
        .filter(push_deliveries::next_attempt_ms.le(now_ms))
        .order((
            push_deliveries::next_attempt_ms.asc(),
            push_deliveries::outbox_id.asc(),
        ))
        .limit(limit)
        .select((
            DeliveryRow::as_select(),
            (
                push_subscriptions::endpoint,
                push_subscriptions::p256dh,
                push_subscriptions::auth,
            ),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(row, (endpoint, p256dh, auth))| Due {
            row,
            endpoint,
            p256dh,
            auth,
        })
        .collect())
}

/// Claims `row` until `until_ms` if no other worker changed it since it was
/// read; false if one did (it is that worker's now).
pub fn claim(conn: &mut DbConnection, row: &DeliveryRow, until_ms: i64) -> Result<bool, ApiError> {
    let n = diesel::update(
        push_deliveries::table
            .find((row.outbox_id, &row.subscription_id))
            .filter(push_deliveries::next_attempt_ms.eq(row.next_attempt_ms))
            .filter(push_deliveries::attempts.eq(row.attempts)),
    )
    .set(push_deliveries::next_attempt_ms.eq(until_ms))
    .execute(conn)?;
    Ok(n == 1)
}

/// Removes a delivery that is done (sent, given up, or no longer needed).
pub fn finish(conn: &mut DbConnection, outbox_id: i64, subscription: &str) -> Result<(), ApiError> {
    diesel::delete(push_deliveries::table.find((outbox_id, subscription))).execute(conn)?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub fn retry_at(
    conn: &mut DbConnection,
    row: &DeliveryRow,
    attempts: i32,
    next_ms: i64,
    status: &str,
) -> Result<(), ApiError> {
    diesel::update(push_deliveries::table.find((row.outbox_id, &row.subscription_id)))
        .set((
            push_deliveries::attempts.eq(attempts),
            push_deliveries::next_attempt_ms.eq(next_ms),
            push_deliveries::last_status.eq(status),
        ))
        .execute(conn)?;
    Ok(())
}

/// When the earliest pending delivery is due (Unix ms), if any.
pub fn next_due(conn: &mut DbConnection) -> Result<Option<i64>, ApiError> {
    Ok(push_deliveries::table
        .select(diesel::dsl::min(push_deliveries::next_attempt_ms))
        .get_result(conn)?)
}

/// Every pending delivery, oldest first (operators and tests).
pub fn pending(conn: &mut DbConnection) -> Result<Vec<DeliveryRow>, ApiError> {
    Ok(push_deliveries::table
        .order((
            push_deliveries::outbox_id.asc(),
            push_deliveries::subscription_id.asc(),
        ))
        .select(DeliveryRow::as_select())
        .load(conn)?)
}

/// The highest outbox id any device of `actor` acknowledged (0 if none).
pub fn acked_by_any_device(conn: &mut DbConnection, actor: &str) -> Result<i64, ApiError> {
    Ok(push_acks::table
        .filter(push_acks::actor_id.eq(actor))
        .select(diesel::dsl::max(push_acks::acked_id))
        .get_result::<Option<i64>>(conn)?
        .unwrap_or(0))
}
