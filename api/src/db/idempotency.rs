//! Stored responses for `Idempotency-Key`.

use diesel::prelude::*;

use crate::db::models::IdempotencyRecord;
use crate::db::schema::idempotency_keys;
use crate::db::{DbConnection, on_backend};
use crate::error::ApiError;

/// Status of a claimed key whose request is still running.
pub const IN_PROGRESS: &str = "in_progress";
/// Status of a key with a stored response.
pub const DONE: &str = "done";
/// Status of a key of a ledger-bound request, stored only to bind the key
/// to its request across relays sharing the database (no response kept).
pub const BOUND: &str = "bound";

/// The record for `(scope, key)`.
pub fn get(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
) -> Result<Option<IdempotencyRecord>, ApiError> {
    Ok(on_backend!(conn, |c| idempotency_keys::table
        .find((scope, key))
        .select(IdempotencyRecord::as_select())
        .get_result(c)
        .optional())?)
}

/// Claims a key for a request; false if it is already taken.
///
/// A taken key is skipped by the insert (`ON CONFLICT DO NOTHING`), so it
/// fails no enclosing transaction (the group commit of
/// [`crate::db::group`]) and needs no savepoint of its own.
pub fn claim(conn: &mut DbConnection, record: &IdempotencyRecord) -> Result<bool, ApiError> {
    let inserted = on_backend!(conn, |c| diesel::insert_into(idempotency_keys::table)
        .values(record)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Stores the response of a claimed key.
pub fn complete(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
    status_code: i32,
    body: &str,
) -> Result<(), ApiError> {
    diesel::update(idempotency_keys::table.find((scope, key)))
        .set((
            idempotency_keys::status.eq(DONE),
            idempotency_keys::status_code.eq(status_code),
            idempotency_keys::response_body.eq(body),
        ))
        .execute(conn)?;
    Ok(())
}

/// Releases a claimed key (the request failed in a way worth retrying).
pub fn release(conn: &mut DbConnection, scope: &str, key: &str) -> Result<(), ApiError> {
    diesel::delete(idempotency_keys::table.find((scope, key))).execute(conn)?;
    Ok(())
}

/// Binds `(scope, key)` to the request hashed `request_hash` unless it is
/// bound already; true if it is bound to this request (now or before),
/// false if to another. A binding older than `stale_before` is replaced.
pub fn bind(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
    now: i64,
    stale_before: i64,
) -> Result<bool, ApiError> {
    let record = IdempotencyRecord {
        account_id: scope.to_owned(),
        idem_key: key.to_owned(),
        request_hash: request_hash.to_owned(),
        status: BOUND.to_owned(),
        status_code: 0,
        response_body: String::new(),
        created_at: now,
    };
    if claim(conn, &record)? {
        return Ok(true);
    }
    let Some(found) = get(conn, scope, key)? else {
        // Released meanwhile: bind it now.
        return claim(conn, &record);
    };
    if found.request_hash == request_hash {
        return Ok(true);
    }
    if found.status == BOUND && found.created_at < stale_before {
        diesel::update(idempotency_keys::table.find((scope, key)))
            .set((
                idempotency_keys::request_hash.eq(request_hash),
                idempotency_keys::created_at.eq(now),
            ))
            .execute(conn)?;
        return Ok(true);
    }
    Ok(false)
}
