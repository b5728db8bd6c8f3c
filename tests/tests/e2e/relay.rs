//! The real `carechain-relay` binary as a child process on a temporary data
//! directory and a free loopback port, on SQLite or on a fresh PostgreSQL
//! database. Dropping a [`Relay`] stops the process and drops the database.
//!
//! The binary is found, in order, at `CARECHAIN_RELAY_BIN` or next to this
//! test executable (`target/<profile>/carechain-relay`, where
//! `cargo test --workspace` builds it because `carechain-api` has integration
//! tests). Cargo cannot build another package's binary for a test without
//! the unstable artifact dependencies, and running cargo from inside a test
//! would wait on the lock cargo itself holds, so `cargo test -p
//! carechain-tests` alone needs `cargo build -p carechain-api --bin
//! carechain-relay` first (see the README).

use std::path::PathBuf;
use std::time::Duration;

use carechain_testkit::process::{RelayProcess, relay_binary};
use diesel::{Connection as _, PgConnection, RunQueryDsl as _};

pub use carechain_testkit::process::{
    ADMIN_EMAIL, ADMIN_PASSWORD, KEYSTORE_PASSPHRASE, LEDGER_AUDIENCE,
};

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which database the relay runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// SQLite in the data directory.
    Sqlite,
    /// A fresh database on the local PostgreSQL.
    Postgres,
}

/// A running relay (fields drop in order: the process, then its database).
pub struct Relay {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    process: RelayProcess,
    _pg: Option<PgDatabase>,
    _dir: tempfile::TempDir,
}

/// Whether the PostgreSQL runs are skipped (`CARECHAIN_SKIP_PG=1`).
pub fn skip_pg() -> bool {
    std::env::var("CARECHAIN_SKIP_PG").as_deref() == Ok("1")
}

/// The relay binary next to this test executable:
/// target/<profile>/deps/e2e-<hash> → target/<profile>/carechain-relay.
fn sibling_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable lives in target/<profile>/deps");
    profile_dir.join(format!("carechain-relay{}", std::env::consts::EXE_SUFFIX))
}

impl Relay {
    /// Starts a relay on `backend`; `None` when PostgreSQL is skipped.
    pub fn start(backend: Backend) -> Option<Relay> {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres if skip_pg() => {
                eprintln!("CARECHAIN_SKIP_PG=1: skipping the PostgreSQL run");
                return None;
            }
            Backend::Postgres => Some(PgDatabase::create()),
        };
        let dir = tempfile::Builder::new()
            .prefix("carechain-e2e-")
            .tempdir()
            .expect("a temporary directory");
        let bin = relay_binary([sibling_binary()]).unwrap_or_else(|| {
            panic!(
                "expected the relay binary at {} (build it with `cargo build -p carechain-api \
                 --bin carechain-relay`, or set CARECHAIN_RELAY_BIN)",
                sibling_binary().display()
            )
        });
        let database = pg.as_ref().map(|pg| pg.url.clone());
        let process = RelayProcess::start(&bin, dir.path(), Duration::from_secs(90), |command| {
            if let Some(url) = database {
                // A relay on PostgreSQL takes its shared secrets from configuration.
                command
                    .env("DATABASE_URL", url)
                    .env(
                        "CARECHAIN_JWT_SECRET",
                        "ZTJlLWp3dC1zZWNyZXQtb2YtMzItYnl0ZXMtYXQtbGVhc3Q",
                    )
                    .env(
                        "CARECHAIN_VAPID_PRIVATE_KEY",
                        "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA",
                    );
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        Some(Relay {
            url: process.url(),
            process,
            _pg: pg,
            _dir: dir,
        })
    }

    /// The admin's sealed keystore, written by the relay at its first start.
    pub fn admin_keystore(&self) -> Vec<u8> {
        self.process.admin_keystore().expect("data/admin.keystore")
    }
}

/// A fresh PostgreSQL database, dropped on drop.
struct PgDatabase {
    url: String,
    name: String,
}

impl PgDatabase {
    fn create() -> PgDatabase {
        let name = format!("carechain_e2e_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(PG_ADMIN_URL)
            .expect("PostgreSQL on 127.0.0.1:5432 (set CARECHAIN_SKIP_PG=1 to skip)");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("CREATE DATABASE");
        PgDatabase {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(PG_ADMIN_URL) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}
