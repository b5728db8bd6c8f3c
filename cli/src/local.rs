//! A temporary relay for `carechain demo` without `--relay` and for
//! `carechain sandbox`: the `carechain-relay` binary run as a child process
//! on a fresh data directory (SQLite and the embedded ledger) and a free
//! loopback port, with its first admin created at start.
//!
//! The CLI spawns the binary rather than linking the relay's library so that
//! no command carries actix-web, diesel and the ledger backends: the CLI is a
//! client of the relay like any other. The child is killed when the
//! [`LocalRelay`] is dropped (after the demo, on an error, on Ctrl-C).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The relay binary's file name.
const RELAY_BIN: &str = "carechain-relay";
/// The variable naming the relay binary explicitly.
const RELAY_BIN_VAR: &str = "CARECHAIN_RELAY_BIN";
/// How long the relay may take to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Why the temporary relay could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start a temporary relay: {0}")]
pub struct LocalError(String);

/// A running child relay with its first admin; killed on drop.
pub struct LocalRelay {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where its data lives (`admin.keystore` among it).
    pub data_dir: PathBuf,
    child: Child,
    _dir: Option<tempfile::TempDir>,
}

/// The admin the relay creates at its first start.
pub struct Admin<'a> {
    /// Login email.
    pub email: &'a str,
    /// Login password.
    pub password: &'a str,
    /// The passphrase `data_dir/admin.keystore` is sealed with.
    pub passphrase: &'a str,
}

/// Finds the relay binary: `CARECHAIN_RELAY_BIN`, else next to this
/// executable, else on `PATH`.
fn relay_binary() -> Result<PathBuf, LocalError> {
    if let Some(path) = std::env::var_os(RELAY_BIN_VAR) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(LocalError(format!(
                "{RELAY_BIN_VAR} names {}, which is not a file",
                path.display()
            )))
        };
    }
    let name = format!("{RELAY_BIN}{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)));
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|dir| dir.join(&name))
                .collect()
        })
        .unwrap_or_default();
    if let Some(found) = beside.iter().chain(&on_path).find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let beside = beside.map_or_else(
        || "(no executable path)".into(),
        |p| p.display().to_string(),
    );
    Err(LocalError(format!(
        "no {name} found: {RELAY_BIN_VAR} is unset, not at {beside}, not on PATH; \
         build it with `cargo build -p carechain-api --bin carechain-relay` or set {RELAY_BIN_VAR}"
    )))
}

fn free_port() -> Result<u16, LocalError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| LocalError(format!("no free loopback port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| LocalError(e.to_string()))
}

/// Starts a relay on a fresh data directory (`dir`, or a temp one removed on
/// drop) that creates `admin` at its first start, and waits until it is ready.
pub async fn start(dir: Option<PathBuf>, admin: &Admin<'_>) -> Result<LocalRelay, LocalError> {
    let err = |e: &dyn std::fmt::Display| LocalError(e.to_string());
    let binary = relay_binary()?;
    let (temp, data_dir, log) = match dir {
        Some(d) => {
            std::fs::create_dir_all(&d).map_err(|e| err(&e))?;
            let log = d.join("relay.log");
            (None, d, log)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("carechain-demo-")
                .tempdir()
                .map_err(|e| err(&e))?;
            let p = t.path().join("data");
            let log = t.path().join("relay.log");
            (Some(t), p, log)
        }
    };
    let log_file = std::fs::File::create(&log).map_err(|e| err(&e))?;
    let port = free_port()?;
    let child = Command::new(&binary)
        .args(["serve", "--admin-email", admin.email])
        .env_remove("CARECHAIN_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("CARECHAIN_DATABASE_URL")
        .env_remove("CARECHAIN_LEDGER")
        .env("CARECHAIN_ADMIN_PASSPHRASE", admin.passphrase)
        .env("CARECHAIN_ADMIN_PASSWORD", admin.password)
        .env("CARECHAIN_LISTEN", format!("127.0.0.1:{port}"))
        .env("CARECHAIN_DATA_DIR", &data_dir)
        .env("CARECHAIN_LEDGER_AUDIENCE", "carechain")
        .env("CARECHAIN_WORKERS", "2")
        .env("CARECHAIN_POOL_SIZE", "4")
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|e| err(&e))?)
        .stderr(log_file)
        .spawn()
        .map_err(|e| LocalError(format!("{}: {e}", binary.display())))?;
    let mut relay = LocalRelay {
        url: format!("http://127.0.0.1:{port}"),
        data_dir,
        child,
        _dir: temp,
    };
    relay.wait_ready(&log).await?;
    Ok(relay)
}

impl LocalRelay {
    /// Polls `/readyz` until it answers 200, the child exits, or the timeout.
    async fn wait_ready(&mut self, log: &Path) -> Result<(), LocalError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| LocalError(e.to_string()))?;
        let readyz = format!("{}/readyz", self.url);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let answer = http.get(&readyz).send().await;
            if answer.is_ok_and(|res| res.status().is_success()) {
                return Ok(());
            }
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let log_text = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = log_text.lines().rev().take(5).collect();
                let why = match exited {
                    Some(status) => format!("it exited ({status})"),
                    None => format!("no answer from {readyz} in {READY_TIMEOUT:?}"),
                };
                return Err(LocalError(format!(
                    "{why}; the end of {}:\n{}",
                    log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The admin's keystore, written by the relay at its first start.
    pub fn admin_keystore(&self) -> PathBuf {
        self.data_dir.join("admin.keystore")
    }
}

impl Drop for LocalRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
