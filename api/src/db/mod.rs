//! Persistence: one diesel `MultiConnection` over SQLite (default, a file in
//! the data directory) and PostgreSQL (`DATABASE_URL=postgres://…`), an r2d2
//! pool, the embedded migrations, and repository functions per table.
//!
//! Handlers never build queries: they call the functions in the submodules,
//! through [`run`], which takes a pooled connection on the blocking pool.
//!
//! Single-row reads use `get_result`, never `first`: `first` binds
//! `LIMIT ?`, and SQLite (since 3.46; we bundle 3.50) plans with a bound
//! LIMIT's value and so re-prepares the cached statement every time it is
//! bound again, i.e. on every run. Every lookup here is by a primary or
//! unique key (or an aggregate), so the LIMIT added nothing.
//!
//! The outbox producer's insert, and the `Idempotency-Key` claim and read,
//! go through [`on_backend!`]:
//! through [`DbConnection`] (a diesel `MultiConnection`) a query is
//! serialized to SQL text on every run, even when its statement is cached.

pub mod accounts;
pub mod group;
pub mod idempotency;
pub mod limits;
pub mod lock;
pub mod models;
pub mod outbox;
pub mod schema;
pub mod tokens;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::web;
use diesel::connection::SimpleConnection as _;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness as _, embed_migrations};

use crate::error::ApiError;

/// The SQLite migrations.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
/// The PostgreSQL migrations.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

pub use connection::DbConnection;

/// The connection enum; its own module because the derive generates undocumented items.
#[allow(missing_docs)]
mod connection {
    use diesel::pg::PgConnection;
    use diesel::sqlite::SqliteConnection;

    /// A connection to either backend.
    #[derive(diesel::MultiConnection)]
    pub enum DbConnection {
        /// SQLite.
        Sqlite(SqliteConnection),
        /// PostgreSQL.
        Pg(PgConnection),
    }
}

/// Runs `$body` with `$c` bound to `$conn`'s own backend connection, so
/// diesel caches the statement by the query's type and binds it without
/// building its SQL text again (see the module docs).
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Pg($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// The connection pool.
pub type DbPool = Pool<ConnectionManager<DbConnection>>;
/// A connection taken from the pool.
pub type PooledConn = PooledConnection<ConnectionManager<DbConnection>>;

/// Per-connection SQLite settings: WAL, a busy timeout, foreign keys, and
/// temporary storage in memory.
///
/// SQLite copies every page a savepoint first changes into a statement
/// journal: [`write`] inside a group-commit batch is a savepoint, and so is
/// each write of a batch the group writer runs again after a failure. On
/// the default `temp_store` that journal spills to a temporary file past
/// 64 KiB; when the writer still ran every write in a savepoint, writing
/// that file was a third of its time under load (see `docs/benchmarks.md`).
/// In memory it is a copy, dropped when the savepoint ends.
#[derive(Debug, Clone, Copy)]
struct SqlitePragmas;

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        if let DbConnection::Sqlite(conn) = conn {
            conn.batch_execute(
                "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                 PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// Whether `url` names a PostgreSQL database (otherwise it is a SQLite file).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens a pool for `url` (`postgres://…` or a SQLite file path) and runs pending migrations.
pub fn connect(url: &str, size: u32) -> Result<DbPool, ApiError> {
    let sqlite = !(url.starts_with("postgres://") || url.starts_with("postgresql://"));
    if sqlite && !url.starts_with(':') && !url.starts_with("file:") {
        // Accounts and tokens: owner-only, like the relay's secret files.
        carechain_core::wallet::restrict_database(std::path::Path::new(url)).map_err(|e| {
            ApiError::internal(format!("cannot create the database file {url}: {e}"))
        })?;
    }
    let manager = ConnectionManager::<DbConnection>::new(url);
    let pool = Pool::builder()
        .max_size(size.max(1))
        .connection_timeout(Duration::from_secs(10))
        .connection_customizer(Box::new(SqlitePragmas))
        .build(manager)
        .map_err(|e| ApiError::internal(format!("cannot open the database: {e}")))?;
    let mut conn = pool
        .get()
        .map_err(|e| ApiError::internal(format!("cannot connect to the database: {e}")))?;
    migrate(&mut conn)?;
    Ok(pool)
}

/// Runs the pending migrations of the connection's backend.
pub fn migrate(conn: &mut DbConnection) -> Result<(), ApiError> {
    let result = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        DbConnection::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| ApiError::internal(format!("migrations failed: {e}")))
}

/// Runs `f` in a transaction that holds the database's write lock from its
/// first statement.
///
/// On SQLite a deferred transaction that reads and then writes fails at once
/// with `SQLITE_BUSY` when another connection committed in between: a stale
/// read snapshot cannot be upgraded, and the busy timeout does not apply.
/// A transaction whose first statement writes waits out the busy timeout
/// instead, so this one starts with a write that changes nothing (SQLite's
/// `BEGIN IMMEDIATE`, through diesel's portable transaction API). PostgreSQL
/// takes row locks as it goes and needs nothing.
pub fn write<T, F>(conn: &mut DbConnection, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError>,
{
    diesel::Connection::transaction(conn, |conn| {
        if let DbConnection::Sqlite(_) = conn {
            take_write_lock(conn)?;
        }
        f(conn)
    })
}

/// A write that changes nothing, to take SQLite's write lock (waiting out
/// `busy_timeout`) at the start of a transaction.
pub(crate) fn take_write_lock(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl as _;
    diesel::sql_query("UPDATE ledger_cursor SET next_block = next_block WHERE 0").execute(conn)?;
    Ok(())
}

/// Runs `f` with a pooled connection on actix's blocking thread pool.
pub async fn run<T, F>(pool: &DbPool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    web::block(move || {
        let mut conn = pool
            .get()
            .map_err(|e| ApiError::unavailable(format!("database: {e}")))?;
        f(&mut conn)
    })
    .await?
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
