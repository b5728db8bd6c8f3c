//! Which relay holds which actor's WebSockets, in the database every relay
//! shares, so that no relay sends a Web Push to an actor connected to
//! another (see the `relay_presence` migration).
//!
//! Each relay process is an instance with a random id. While it runs it
//! refreshes its `relay_instances` row every [`REFRESH`] to live
//! [`LEASE`] ahead; each open socket is a `push_sockets` row of its
//! instance, removed when the socket closes. An actor is online if a socket
//! row of a live instance names it; the rows of a crashed relay stop
//! counting when its lease lapses and are removed by the next refresh of
//! any relay.

use std::time::Duration;

use actix_web::web;
use diesel::prelude::*;

use crate::db::schema::{push_sockets, relay_instances};
use crate::db::{self, DbConnection, on_backend};
use crate::error::ApiError;
use crate::state::AppState;

/// How often a relay refreshes its lease.
pub const REFRESH: Duration = Duration::from_secs(10);
/// How far ahead a refresh extends the lease: a crashed relay's sockets
/// stop counting at most this long after its last refresh.
pub const LEASE: Duration = Duration::from_secs(30);

/// Marks instance `relay` alive until `until_ms` and removes the rows of
/// instances whose lease lapsed before `now_ms`.
pub fn refresh(
    conn: &mut DbConnection,
    relay: &str,
    until_ms: i64,
    now_ms: i64,
) -> Result<(), ApiError> {
    db::write(conn, |conn| {
        on_backend!(conn, |c| diesel::insert_into(relay_instances::table)
            .values((
                relay_instances::id.eq(relay),
                relay_instances::alive_until_ms.eq(until_ms),
            ))
            .on_conflict(relay_instances::id)
            .do_update()
            .set(relay_instances::alive_until_ms.eq(until_ms))
            .execute(c))?;
        let lapsed = relay_instances::table
            .filter(relay_instances::alive_until_ms.lt(now_ms))
            .select(relay_instances::id);
        diesel::delete(push_sockets::table.filter(push_sockets::relay_id.eq_any(lapsed)))
            .execute(conn)?;
        diesel::delete(relay_instances::table.filter(relay_instances::alive_until_ms.lt(now_ms)))
            .execute(conn)?;
        Ok(())
    })
}

/// Removes instance `relay` and its sockets (a graceful stop).
pub fn leave(conn: &mut DbConnection, relay: &str) -> Result<(), ApiError> {
    db::write(conn, |conn| {
        diesel::delete(push_sockets::table.filter(push_sockets::relay_id.eq(relay)))
            .execute(conn)?;
        diesel::delete(relay_instances::table.find(relay)).execute(conn)?;
        Ok(())
    })
}

/// Records socket `id` of `actor` on instance `relay`.
pub fn opened(conn: &mut DbConnection, id: &str, relay: &str, actor: &str) -> Result<(), ApiError> {
    diesel::insert_into(push_sockets::table)
        .values((
            push_sockets::id.eq(id),
            push_sockets::relay_id.eq(relay),
            push_sockets::actor_id.eq(actor),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets socket `id`.
pub fn closed(conn: &mut DbConnection, id: &str) -> Result<(), ApiError> {
    diesel::delete(push_sockets::table.find(id)).execute(conn)?;
    Ok(())
}

/// Whether `actor` has a socket on any relay whose lease runs at `now_ms`.
pub fn online(conn: &mut DbConnection, actor: &str, now_ms: i64) -> Result<bool, ApiError> {
    let live = relay_instances::table
        .filter(relay_instances::alive_until_ms.ge(now_ms))
        .select(relay_instances::id);
    let n: i64 = push_sockets::table
        .filter(push_sockets::actor_id.eq(actor))
        .filter(push_sockets::relay_id.eq_any(live))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Refreshes this relay's lease every [`REFRESH`] while the process runs.
pub async fn run(state: web::Data<AppState>) {
    let relay = state.push.instance.clone();
    loop {
        let (id, now) = (relay.clone(), db::now_ms());
        let until = now + i64::try_from(LEASE.as_millis()).unwrap_or(30_000);
        if let Err(e) = db::run(&state.pool, move |c| refresh(c, &id, until, now)).await {
            tracing::warn!(error = %e, "cannot refresh this relay's presence lease");
        }
        actix_web::rt::time::sleep(REFRESH).await;
    }
}
