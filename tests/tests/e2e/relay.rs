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

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::{Connection as _, PgConnection, RunQueryDsl as _};

/// The admin's e-mail, password and keystore passphrase on every test relay.
pub const ADMIN_EMAIL: &str = "admin@example.org";
/// The admin's login password.
pub const ADMIN_PASSWORD: &str = "admin-password-1";
/// The passphrase the admin keystore is sealed with.
pub const KEYSTORE_PASSPHRASE: &str = "keystore-passphrase";
/// The ledger audience statements are signed for.
pub const LEDGER_AUDIENCE: &str = "carechain";

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which database the relay runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// SQLite in the data directory.
    Sqlite,
    /// A fresh database on the local PostgreSQL.
    Postgres,
}

/// A running relay.
pub struct Relay {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The relay's data directory (admin keystore, ledger, SQLite).
    pub data_dir: PathBuf,
    child: Child,
    pg: Option<PgDatabase>,
    _dir: tempfile::TempDir,
}

/// Whether the PostgreSQL runs are skipped (`CARECHAIN_SKIP_PG=1`).
pub fn skip_pg() -> bool {
    std::env::var("CARECHAIN_SKIP_PG").as_deref() == Ok("1")
}

/// The relay binary: `CARECHAIN_RELAY_BIN`, else next to this test executable.
fn relay_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CARECHAIN_RELAY_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/e2e-<hash> → target/<profile>/carechain-relay
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable lives in target/<profile>/deps");
    let path = profile_dir.join(format!("carechain-relay{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "expected the relay binary at {} (build it with `cargo build -p carechain-api --bin \
         carechain-relay`, or set CARECHAIN_RELAY_BIN)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("the bound address").port()
}

/// `GET /readyz` answered 200.
fn ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
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
        let data_dir = dir.path().join("data");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("relay.log")).expect("the relay log");
        let mut command = Command::new(relay_binary());
        command
            .args(["serve", "--admin-email", ADMIN_EMAIL])
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env("CARECHAIN_ADMIN_PASSPHRASE", KEYSTORE_PASSPHRASE)
            .env("CARECHAIN_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CARECHAIN_LISTEN", format!("127.0.0.1:{port}"))
            .env("CARECHAIN_DATA_DIR", &data_dir)
            .env("CARECHAIN_LEDGER_AUDIENCE", LEDGER_AUDIENCE)
            .env("CARECHAIN_LOGIN_ATTEMPTS_PER_MINUTE", "1000")
            .env("CARECHAIN_SIGNUPS_PER_CLIENT_PER_HOUR", "1000000")
            .env("CARECHAIN_SIGNUPS_PER_HOUR", "1000000")
            .env(
                "CARECHAIN_PATIENT_REGISTRATIONS_PER_CLIENT_PER_HOUR",
                "1000000",
            )
            .env("CARECHAIN_PATIENT_REGISTRATIONS_PER_HOUR", "1000000")
            .env("CARECHAIN_WORKERS", "2")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the relay log"))
            .stderr(log);
        if let Some(pg) = &pg {
            // A relay on PostgreSQL takes its shared secrets from configuration.
            command
                .env("DATABASE_URL", &pg.url)
                .env(
                    "CARECHAIN_JWT_SECRET",
                    "ZTJlLWp3dC1zZWNyZXQtb2YtMzItYnl0ZXMtYXQtbGVhc3Q",
                )
                .env(
                    "CARECHAIN_VAPID_PRIVATE_KEY",
                    "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA",
                );
        }
        let child = command.spawn().expect("the relay starts");
        let mut relay = Relay {
            url: format!("http://127.0.0.1:{port}"),
            data_dir,
            child,
            pg,
            _dir: dir,
        };
        relay.wait_ready(port);
        Some(relay)
    }

    fn wait_ready(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while !ready(port) {
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self._dir.path().join("relay.log")).unwrap_or_default();
                panic!("the relay did not become ready ({exited:?}):\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The admin's sealed keystore, written by the relay at its first start.
    pub fn admin_keystore(&self) -> Vec<u8> {
        std::fs::read(self.data_dir.join("admin.keystore")).expect("data/admin.keystore")
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The database is dropped after the process holding it is gone.
        self.pg.take();
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
