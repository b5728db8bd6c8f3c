//! Wake-ups across relays that share one PostgreSQL database.
//!
//! Every relay follows the ledger's events, but only the first to store an
//! event's outbox rows (see [`super::producer`]) knows they exist; its own
//! sockets are woken at once, the others' would wait for their next event
//! or reconnect. So the storing transaction also announces each new row
//! with `pg_notify` on [`CHANNEL`] (PostgreSQL delivers it only if the
//! transaction commits, after the rows are visible), and every relay runs a
//! listener that wakes its own sockets for the rows announced. A socket
//! reads its rows from the database after a wake-up, so a wake-up carries
//! no data and a duplicate one costs a query that finds nothing new.
//!
//! The listener is a thread with its own libpq connection (the pool's
//! driver, so the database URL means the same: TLS, authentication), which
//! polls for notifications every [`POLL`]: diesel exposes no socket to wait
//! on, and a poll is one non-blocking `recv`. After a (re)connect it wakes
//! every open socket, since rows committed while it was not listening were
//! announced to no one. On SQLite there is one relay per database and no
//! listener.

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Text};

use super::hub::{Hub, WeakHub};

/// The notification channel outbox rows are announced on.
pub const CHANNEL: &str = "carechain_outbox";
/// How often the listener asks its connection for notifications.
pub const POLL: Duration = Duration::from_millis(5);
/// The longest wait before reconnecting after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Announces the new outbox rows `(recipient, id)` to every relay's
/// listener, in the storing transaction of `conn`.
pub fn announce(conn: &mut PgConnection, rows: &[(String, i64)]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = rows.iter().map(|(actor, id)| payload(actor, *id)).collect();
    diesel::sql_query("SELECT pg_notify($1, p)::text FROM unnest($2) AS p")
        .bind::<Text, _>(CHANNEL)
        .bind::<Array<Text>, _>(payloads)
        .execute(conn)?;
    Ok(())
}

/// The notification payload for outbox row `id` of `actor`: `"<id> <actor>"`.
pub fn payload(actor: &str, id: i64) -> String {
    format!("{id} {actor}")
}

/// The row a notification payload announces, or `None` if it is not one.
pub fn parse(payload: &str) -> Option<(&str, i64)> {
    let (id, actor) = payload.split_once(' ')?;
    let id = id.parse().ok()?;
    (!actor.is_empty()).then_some((actor, id))
}

/// Starts a listener on the PostgreSQL database at `url` that wakes the
/// sockets of `hub` for rows other relays store; it ends when the hub (the
/// relay's state) is gone.
pub fn spawn(url: String, hub: &Hub) -> std::io::Result<()> {
    let hub = hub.downgrade();
    std::thread::Builder::new()
        .name("outbox-listener".into())
        .spawn(move || run(&url, &hub))?;
    Ok(())
}

/// Listens while the hub lives, reconnecting with exponential backoff.
fn run(url: &str, hub: &WeakHub) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen(url, hub, &mut backoff) {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64,
                "outbox listener lost its database connection; reconnecting"),
        }
        std::thread::sleep(backoff);
        if hub.upgrade().is_none() {
            return;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection's life: `LISTEN`, wake every socket, then forward
/// notifications until the hub is gone (`Ok`) or a failure (`Err`).
fn listen(url: &str, weak: &WeakHub, backoff: &mut Duration) -> Result<(), String> {
    let mut conn = PgConnection::establish(url).map_err(|e| e.to_string())?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .map_err(|e| e.to_string())?;
    *backoff = Duration::from_millis(100);
    match weak.upgrade() {
        Some(hub) => hub.wake_all(),
        None => return Ok(()),
    }
    tracing::info!(channel = CHANNEL, "listening for other relays' outbox rows");
    loop {
        let Some(hub) = weak.upgrade() else {
            return Ok(());
        };
        for notification in conn.notifications_iter() {
            let notification = notification.map_err(|e| e.to_string())?;
            match parse(&notification.payload) {
                Some((actor, id)) => {
                    hub.notify(actor, id);
                }
                None => tracing::debug!("ignoring a malformed outbox notification"),
            }
        }
        drop(hub);
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_names_the_row_and_its_recipient() {
        let text = payload("cc12ab", 42);
        assert_eq!(parse(&text), Some(("cc12ab", 42)));
        for bad in ["", "42", "42 ", "x cc12ab", " cc12ab"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
