//! Repository functions for push delivery: outbox rows from ledger events
//! (exactly once per block, transaction and recipient), acknowledgement
//! cursors per actor and device, and Web Push subscriptions.

use diesel::prelude::*;

use crate::db::schema::{outbox, push_acks, push_deliveries, push_subscriptions};
use crate::db::{DbConnection, on_backend};
use crate::error::ApiError;

/// A row to enqueue for a ledger event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRow {
    /// The recipient's actor id.
    pub recipient: String,
    /// The event kind (the contract's event name).
    pub kind: String,
    /// The JSON payload: ids only.
    pub payload: String,
    /// The ledger block of the event.
    pub block: i64,
    /// The ledger transaction of the event.
    pub tx_id: String,
}

/// Inserts `rows` unless already present, with a pending Web Push delivery
/// per subscription of each recipient, and moves the ledger cursor to
/// `next_block`, in one transaction; returns `(recipient, id)` of new rows.
pub fn enqueue(
    conn: &mut DbConnection,
    rows: &[NewRow],
    next_block: i64,
    now: i64,
) -> Result<Vec<(String, i64)>, ApiError> {
    crate::db::write(conn, |conn| {
        crate::db::outbox::set_cursor(conn, next_block)?;
        let mut fresh = Vec::new();
        for row in rows {
            // Absent rows only: the unique `(ledger_block, tx_id, recipient)`.
            let inserted = on_backend!(conn, |c| diesel::insert_into(outbox::table)
                .values((
                    outbox::recipient.eq(&row.recipient),
                    outbox::kind.eq(&row.kind),
                    outbox::payload.eq(&row.payload),
                    outbox::created_at.eq(now),
                    outbox::ledger_block.eq(row.block),
                    outbox::tx_id.eq(&row.tx_id),
                ))
                .on_conflict_do_nothing()
                .returning(outbox::id)
                .get_result::<i64>(c)
                .optional())?;
            let Some(id) = inserted else {
                continue;
            };
            // The Web Push deliveries become visible with the row, so a
            // restart between the two cannot lose one.
            crate::push::deliveries::enqueue(conn, id, &row.recipient, crate::db::now_ms(), now)?;
            fresh.push((row.recipient.clone(), id));
        }
        // Other relays on this database wake their sockets at commit.
        if let crate::db::DbConnection::Pg(c) = conn {
            crate::push::listen::announce(c, &fresh)?;
        }
        Ok(fresh)
    })
}

/// The acknowledged id of `actor`'s `device` (0 if none).
pub fn acked(conn: &mut DbConnection, actor: &str, device: &str) -> Result<i64, ApiError> {
    Ok(push_acks::table
        .find((actor, device))
        .select(push_acks::acked_id)
        .get_result(conn)
        .optional()?
        .unwrap_or(0))
}

/// Moves `actor`'s `device` cursor forward to `id` (never back).
///
/// The conditional `UPDATE` keeps two sockets of one device from moving
/// the cursor back on PostgreSQL, where their transactions may interleave.
pub fn ack(
    conn: &mut DbConnection,
    actor: &str,
    device: &str,
    id: i64,
    now: i64,
) -> Result<(), ApiError> {
    let stored = crate::db::write(conn, |conn| {
        let moved = diesel::update(
            push_acks::table
                .find((actor, device))
                .filter(push_acks::acked_id.lt(id)),
        )
        .set((push_acks::acked_id.eq(id), push_acks::updated_at.eq(now)))
        .execute(conn)?;
        let exists = moved > 0
            || push_acks::table
                .find((actor, device))
                .select(push_acks::acked_id)
                .get_result::<i64>(conn)
                .optional()?
                .is_some();
        if !exists {
            diesel::insert_into(push_acks::table)
                .values((
                    push_acks::actor_id.eq(actor),
                    push_acks::device.eq(device),
                    push_acks::acked_id.eq(id),
                    push_acks::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(())
    });
    match stored {
        // PostgreSQL: another socket of the same device stored its first ack
        // at the same moment; move forward from there.
        Err(ApiError::Conflict(_)) => ack(conn, actor, device, id, now),
        other => other,
    }
}

/// A Web Push subscription.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = push_subscriptions)]
pub struct SubscriptionRow {
    /// Its id.
    pub id: String,
    /// The owning account.
    pub account_id: String,
    /// The owning actor.
    pub actor_id: String,
    /// The push service URL.
    pub endpoint: String,
    /// The user agent's public key, base64url (65-byte uncompressed P-256).
    pub p256dh: String,
    /// The 16-byte auth secret, base64url.
    pub auth: String,
    /// When created.
    pub created_at: i64,
}

/// Stores a subscription, replacing one with the same endpoint; returns its id.
pub fn subscribe(conn: &mut DbConnection, row: &SubscriptionRow) -> Result<String, ApiError> {
    crate::db::write(conn, |conn| {
        let mine = push_subscriptions::table
            .filter(push_subscriptions::endpoint.eq(&row.endpoint))
            .filter(push_subscriptions::account_id.eq(&row.account_id));
        let replaced = diesel::update(mine)
            .set((
                push_subscriptions::p256dh.eq(&row.p256dh),
                push_subscriptions::auth.eq(&row.auth),
            ))
            .execute(conn)?;
        let existing: Option<SubscriptionRow> = push_subscriptions::table
            .filter(push_subscriptions::endpoint.eq(&row.endpoint))
            .select(SubscriptionRow::as_select())
            .get_result(conn)
            .optional()?;
        match existing {
            Some(old) if replaced > 0 => return Ok(old.id),
            Some(_) => {
                return Err(ApiError::Conflict(
                    "this endpoint belongs to another account".into(),
                ));
            }
            None => {}
        }
        diesel::insert_into(push_subscriptions::table)
            .values((
                push_subscriptions::id.eq(&row.id),
                push_subscriptions::account_id.eq(&row.account_id),
                push_subscriptions::actor_id.eq(&row.actor_id),
                push_subscriptions::endpoint.eq(&row.endpoint),
                push_subscriptions::p256dh.eq(&row.p256dh),
                push_subscriptions::auth.eq(&row.auth),
                push_subscriptions::created_at.eq(row.created_at),
            ))
            .execute(conn)?;
        Ok(row.id.clone())
    })
}

/// Removes `account`'s subscription `id`; false if there is none.
pub fn unsubscribe(conn: &mut DbConnection, account: &str, id: &str) -> Result<bool, ApiError> {
    crate::db::write(conn, |conn| {
        let owned = push_subscriptions::table
            .filter(push_subscriptions::id.eq(id))
            .filter(push_subscriptions::account_id.eq(account))
            .select(push_subscriptions::id);
        diesel::delete(
            push_deliveries::table.filter(push_deliveries::subscription_id.eq_any(owned)),
        )
        .execute(conn)?;
        let removed = diesel::delete(
            push_subscriptions::table
                .filter(push_subscriptions::id.eq(id))
                .filter(push_subscriptions::account_id.eq(account)),
        )
        .execute(conn)?;
        Ok(removed > 0)
    })
}

/// Removes a subscription (e.g. one the push service reported gone) and its
/// pending deliveries.
pub fn remove(conn: &mut DbConnection, id: &str) -> Result<(), ApiError> {
    crate::db::write(conn, |conn| {
        diesel::delete(push_deliveries::table.filter(push_deliveries::subscription_id.eq(id)))
            .execute(conn)?;
        diesel::delete(push_subscriptions::table.find(id)).execute(conn)?;
        Ok(())
    })
}

/// The subscriptions of `actor`.
pub fn subscriptions(
    conn: &mut DbConnection,
    actor: &str,
) -> Result<Vec<SubscriptionRow>, ApiError> {
    Ok(push_subscriptions::table
        .filter(push_subscriptions::actor_id.eq(actor))
        .order(push_subscriptions::created_at.asc())
        .select(SubscriptionRow::as_select())
        .load(conn)?)
}
