//! A temporary relay run in-process (the `carechain-api` library on a temp
//! directory: SQLite, the embedded ledger, a free loopback port), for
//! `carechain demo` without `--relay` and for `carechain sandbox`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::mpsc;

use actix_web::dev::ServerHandle;
use actix_web::{HttpServer, web};
use zeroize::Zeroizing;

use carechain_api::config::Config;
use carechain_api::keystore::AdminKeys;
use carechain_api::state::AppState;
use carechain_api::{app, setup};
use carechain_core::OsRng;

/// Why the temporary relay could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start a temporary relay: {0}")]
pub struct LocalError(String);

/// A running in-process relay with its first admin.
pub struct LocalRelay {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where its data lives.
    pub data_dir: PathBuf,
    /// The admin's keys.
    pub admin_keys: AdminKeys,
    /// The admin's login email.
    pub admin_email: String,
    /// The admin's login password.
    pub admin_password: Zeroizing<String>,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

/// Starts a relay on a fresh data directory (`dir`, or a temp one removed on
/// drop), with an admin `admin_email` / `admin_password` (random if `None`).
pub fn start(
    dir: Option<PathBuf>,
    admin_email: &str,
    admin_password: Option<Zeroizing<String>>,
) -> Result<LocalRelay, LocalError> {
    let err = |e: &dyn std::fmt::Display| LocalError(e.to_string());
    let (temp, data_dir) = match dir {
        Some(d) => (None, d),
        None => {
            let t = tempfile::tempdir().map_err(|e| err(&e))?;
            let p = t.path().to_owned();
            (Some(t), p)
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| err(&e))?;
    let addr = listener.local_addr().map_err(|e| err(&e))?;
    let config = Config {
        data_dir: data_dir.clone(),
        listen: addr,
        workers: 2,
        pool_size: 4,
        ..Config::default()
    };
    let password = admin_password
        .unwrap_or_else(|| Zeroizing::new(format!("demo-{}", uuid::Uuid::new_v4().simple())));
    let keys = AdminKeys::generate(&mut OsRng);
    let signing = keys.signing.to_bytes();
    let hpke = keys.hpke.to_bytes();
    let (tx, rx) = mpsc::channel::<Result<ServerHandle, String>>();
    let email = admin_email.to_owned();
    let pw = password.clone();
    let thread = std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let ready = async {
                let state = AppState::open(config).map_err(|e| e.to_string())?;
                let keys = AdminKeys {
                    signing: carechain_core::identity::SigningKey::from_bytes(signing.as_ref())
                        .map_err(|e| e.to_string())?,
                    hpke: carechain_core::envelope::HpkeSecretKey::from_bytes(&hpke)
                        .map_err(|e| e.to_string())?,
                };
                setup::init_admin(&state, &keys, &email, &pw, "Administrator")
                    .await
                    .map_err(|e| e.to_string())?;
                let state = web::Data::new(state);
                let metrics = app::metrics().map_err(|e| e.to_string())?;
                carechain_api::push::spawn_producer(state.clone());
                let _worker = carechain_api::push::spawn_worker(state.clone());
                let server = HttpServer::new(move || app::app(state.clone(), metrics.clone()))
                    .workers(2)
                    .shutdown_timeout(5)
                    .disable_signals()
                    .listen(listener)
                    .map_err(|e| e.to_string())?
                    .run();
                Ok::<_, String>(server)
            };
            match ready.await {
                Ok(server) => {
                    let _ = tx.send(Ok(server.handle()));
                    let _ = server.await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
    });
    let handle = rx
        .recv()
        .map_err(|e| err(&e))?
        .map_err(|e| LocalError(e.to_string()))?;
    Ok(LocalRelay {
        url: format!("http://{addr}"),
        data_dir,
        admin_keys: keys,
        admin_email: admin_email.to_owned(),
        admin_password: password,
        handle,
        thread: Some(thread),
        _dir: temp,
    })
}

impl LocalRelay {
    /// Stops the server and waits for its thread.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}
