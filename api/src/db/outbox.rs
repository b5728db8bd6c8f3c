//! The durable push outbox and the ledger event cursor: the seam for push
//! delivery (WebSocket, Web Push), which consumes these tables elsewhere.

use diesel::prelude::*;

use crate::db::schema::{ledger_cursor, outbox};
use crate::db::{DbConnection, on_backend};
use crate::error::ApiError;

/// An event waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxEvent {
    /// Monotonic id per database; clients acknowledge by id.
    pub id: i64,
    /// The recipient's actor id.
    pub recipient: String,
    /// Event kind.
    pub kind: String,
    /// JSON payload (ids and decisions only, never medical data).
    pub payload: String,
    /// When enqueued.
    pub created_at: i64,
}

/// Enqueues an event for `recipient`.
pub fn push(
    conn: &mut DbConnection,
    recipient: &str,
    kind: &str,
    payload: &str,
    now: i64,
) -> Result<(), ApiError> {
    diesel::insert_into(outbox::table)
        .values((
            outbox::recipient.eq(recipient),
            outbox::kind.eq(kind),
            outbox::payload.eq(payload),
            outbox::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The events of `recipient` after id `after`, in order.
pub fn after(
    conn: &mut DbConnection,
    recipient: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<OutboxEvent>, ApiError> {
    Ok(outbox::table
        .filter(outbox::recipient.eq(recipient))
        .filter(outbox::id.gt(after))
        .order(outbox::id.asc())
        .limit(limit)
        .select(OutboxEvent::as_select())
        .load(conn)?)
}

/// The next ledger block the outbox producer will consume.
pub fn cursor(conn: &mut DbConnection) -> Result<i64, ApiError> {
    Ok(ledger_cursor::table
        .find(1)
        .select(ledger_cursor::next_block)
        .get_result(conn)?)
}

/// Moves the ledger cursor.
pub fn set_cursor(conn: &mut DbConnection, next_block: i64) -> Result<(), ApiError> {
    on_backend!(conn, |c| diesel::update(ledger_cursor::table.find(1))
        .set(ledger_cursor::next_block.eq(next_block))
        .execute(c))?;
    Ok(())
}
