//! The relay on its own thread: an actix system serving the relay's
//! application on a loopback port, over a fresh temp directory (embedded
//! ledger, SQLite database), until dropped.

use std::net::SocketAddr;
use std::sync::mpsc;

use actix_web::dev::ServerHandle;
use actix_web::{HttpServer, web};
use carechain_api::app;
use carechain_api::config::Config;
use carechain_api::db;
use carechain_api::state::{AppState, open_ledger};

use crate::AUD;

/// The relay running on its own thread (an actix system) until dropped.
pub struct Server {
    /// The bound loopback address.
    pub addr: SocketAddr,
    /// The relay's state (its database pool, ledger and token keys).
    pub state: web::Data<AppState>,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// A relay on a fresh temp directory, signing statements' audience `AUD`.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("a temp directory");
        let config = Config {
            data_dir: dir.path().to_owned(),
            ledger_audience: AUD.into(),
            login_attempts_per_minute: 10_000,
            pool_size: 4,
            ..Config::default()
        };
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let pool = db::connect(&config.database_url(), config.pool_size).unwrap();
                let ledger = open_ledger(&config).unwrap();
                let state = web::Data::new(AppState::new(config, pool, ledger, &[7u8; 32]));
                let metrics = app::metrics().unwrap();
                let shared = state.clone();
                let server = HttpServer::new(move || app::app(shared.clone(), metrics.clone()))
                    .workers(1)
                    .shutdown_timeout(1)
                    .disable_signals()
                    .bind(("127.0.0.1", 0))
                    .unwrap();
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, state, server.handle())).unwrap();
                server.await.unwrap();
            });
        });
        let (addr, state, handle) = rx.recv().expect("the relay starts");
        Server {
            addr,
            state,
            handle,
            thread: Some(thread),
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The server's own system waits for the stop; this one only asks.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
