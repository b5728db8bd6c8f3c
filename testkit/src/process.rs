//! The real `carechain-relay` binary as a child process for tests and
//! benchmarks: `serve` on a free loopback port and a given data directory,
//! with the test admin and every rate limit raised, killed on drop.
//!
//! Cargo cannot build another package's binary for a test without the
//! unstable artifact dependencies, so callers find the binary themselves
//! ([`relay_binary`] covers the usual places) and pass it in.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin's e-mail on every test relay.
pub const ADMIN_EMAIL: &str = "admin@example.org";
/// The admin's login password.
pub const ADMIN_PASSWORD: &str = "admin-password-1";
/// The passphrase the admin keystore is sealed with.
pub const KEYSTORE_PASSPHRASE: &str = "keystore-passphrase";
/// The ledger audience statements are signed for.
pub const LEDGER_AUDIENCE: &str = "carechain";

/// The rate limits a test relay raises (every test signs up and logs in far
/// more often than a person would).
const RAISED_LIMITS: [(&str, &str); 5] = [
    ("CARECHAIN_LOGIN_ATTEMPTS_PER_MINUTE", "100000"),
    ("CARECHAIN_SIGNUPS_PER_CLIENT_PER_HOUR", "1000000"),
    ("CARECHAIN_SIGNUPS_PER_HOUR", "1000000"),
    (
        "CARECHAIN_PATIENT_REGISTRATIONS_PER_CLIENT_PER_HOUR",
        "1000000",
    ),
    ("CARECHAIN_PATIENT_REGISTRATIONS_PER_HOUR", "1000000"),
];

/// The relay binary: `CARECHAIN_RELAY_BIN`, else the first of `candidates`
/// that exists; `None` when there is none.
pub fn relay_binary(candidates: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CARECHAIN_RELAY_BIN") {
        return Some(PathBuf::from(path));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("the bound address").port()
}

/// `GET /readyz` on `port` answered 200.
pub fn ready(port: u16) -> bool {
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

/// A running `carechain-relay serve`, killed on drop.
pub struct RelayProcess {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data directory (admin keystore, ledger, SQLite).
    pub data_dir: PathBuf,
    log: PathBuf,
    child: Child,
}

impl RelayProcess {
    /// Starts `bin serve` in `dir` (data in `dir/data`, log in
    /// `dir/relay.log`) on SQLite unless `configure` sets a database, and
    /// waits up to `timeout` for `/readyz`. The error holds the relay's log.
    pub fn start(
        bin: &Path,
        dir: &Path,
        timeout: Duration,
        configure: impl FnOnce(&mut Command),
    ) -> Result<Self, String> {
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let data_dir = dir.join("data");
        let log = dir.join("relay.log");
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(bin);
        command
            .args(["serve", "--admin-email", ADMIN_EMAIL])
            .current_dir(dir)
            .env_remove("DATABASE_URL")
            .env_remove("CARECHAIN_DATABASE_URL")
            .env("CARECHAIN_ADMIN_PASSPHRASE", KEYSTORE_PASSPHRASE)
            .env("CARECHAIN_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CARECHAIN_LISTEN", addr.to_string())
            .env("CARECHAIN_DATA_DIR", &data_dir)
            .env("CARECHAIN_LEDGER_AUDIENCE", LEDGER_AUDIENCE)
            .env("CARECHAIN_WORKERS", "2")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("warn".into()),
            )
            .envs(RAISED_LIMITS)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err);
        configure(&mut command);
        let child = command
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let mut relay = RelayProcess {
            addr,
            data_dir,
            log,
            child,
        };
        let deadline = Instant::now() + timeout;
        while !ready(port) {
            let exited = relay.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(&relay.log).unwrap_or_default();
                return Err(format!(
                    "the relay did not become ready in {timeout:?} ({exited:?}):\n{log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(relay)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The admin's sealed keystore, written by the relay at its first start.
    pub fn admin_keystore(&self) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.data_dir.join("admin.keystore"))
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
