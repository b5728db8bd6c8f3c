//! Rate limits shared by every relay process on the database: the generic
//! cell rate algorithm (GCRA, the algorithm of the `governor` crate the relay
//! used per process before), one row per key.
//!
//! A key allows `burst` attempts at once and then one per `interval`: each
//! attempt moves the key's theoretical arrival time (TAT) to
//! `max(TAT, now) + interval`, and is refused when that is more than
//! `burst × interval` ahead of now. The check and the move are one upsert
//! statement (`INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`), so
//! concurrent attempts from any number of processes are counted exactly,
//! each seeing the others' (PostgreSQL locks the row for the statement,
//! SQLite the database). A refused attempt does not move the TAT.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::schema::login_limits;
use crate::db::{DbConnection, on_backend};
use crate::error::ApiError;

/// How a limited key behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Milliseconds between attempts in the long run.
    pub interval_ms: i64,
    /// Attempts allowed at once.
    pub burst: i64,
}

impl Quota {
    /// `n` attempts per minute, all of them allowed at once.
    pub fn per_minute(n: u32) -> Quota {
        Quota::per(n, 60_000)
    }

    /// `n` attempts per hour, all of them allowed at once.
    pub fn per_hour(n: u32) -> Quota {
        Quota::per(n, 3_600_000)
    }

    fn per(n: u32, period_ms: i64) -> Quota {
        let n = i64::from(n.max(1));
        Quota {
            interval_ms: (period_ms / n).max(1),
            burst: n,
        }
    }
}

#[derive(QueryableByName)]
struct Tat {
    #[diesel(sql_type = BigInt)]
    tat_ms: i64,
}

const SQLITE_TAKE: &str = "INSERT INTO login_limits (limit_key, tat_ms) VALUES (?1, ?2 + ?3) \
     ON CONFLICT (limit_key) DO UPDATE SET tat_ms = max(login_limits.tat_ms, ?2) + ?3 \
     WHERE max(login_limits.tat_ms, ?2) + ?3 - ?2 <= ?4 RETURNING tat_ms";
const PG_TAKE: &str = "INSERT INTO login_limits (limit_key, tat_ms) VALUES ($1, $2 + $3) \
     ON CONFLICT (limit_key) DO UPDATE SET tat_ms = GREATEST(login_limits.tat_ms, $2) + $3 \
     WHERE GREATEST(login_limits.tat_ms, $2) + $3 - $2 <= $4 RETURNING tat_ms";

/// Counts an attempt for `key` at `now_ms`: `None` if allowed, else the
/// milliseconds until an attempt would be.
pub fn take(
    conn: &mut DbConnection,
    key: &str,
    quota: Quota,
    now_ms: i64,
) -> Result<Option<i64>, ApiError> {
    let period = quota.interval_ms.saturating_mul(quota.burst);
    let sql = match conn {
        DbConnection::Sqlite(_) => SQLITE_TAKE,
        DbConnection::Pg(_) => PG_TAKE,
    };
    let taken: Option<Tat> = on_backend!(conn, |c| diesel::sql_query(sql)
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(now_ms)
        .bind::<BigInt, _>(quota.interval_ms)
        .bind::<BigInt, _>(period)
        .get_result(c)
        .optional()?);
    if let Some(taken) = taken {
        debug_assert!(
            taken.tat_ms > now_ms,
            "an allowed attempt moves the TAT past now"
        );
        return Ok(None);
    }
    let tat: i64 = login_limits::table
        .find(key)
        .select(login_limits::tat_ms)
        .get_result(conn)?;
    Ok(Some(
        (tat.max(now_ms) + quota.interval_ms - period - now_ms).max(1),
    ))
}

/// Gives back one attempt that [`take`] counted for `key` (a correct
/// credential, or an attempt refused on another key): moves the TAT back
/// by one interval.
pub fn refund(conn: &mut DbConnection, key: &str, quota: Quota) -> Result<(), ApiError> {
    diesel::update(login_limits::table.find(key))
        .set(login_limits::tat_ms.eq(login_limits::tat_ms - quota.interval_ms))
        .execute(conn)?;
    Ok(())
}

/// Deletes the rows that limit nothing any more (TAT in the past).
pub fn sweep(conn: &mut DbConnection, now_ms: i64) -> Result<usize, ApiError> {
    Ok(
        diesel::delete(login_limits::table.filter(login_limits::tat_ms.lt(now_ms)))
            .execute(conn)?,
    )
}
