//! The relay on its own thread: an actix system running the relay's one
//! start-up ([`Relay::builder`]) on a loopback port, over a fresh temp
//! directory (embedded ledger, SQLite database), until dropped.

use std::net::SocketAddr;
use std::sync::mpsc;

use actix_web::dev::ServerHandle;
use actix_web::web;
use carechain_api::config::Config;
use carechain_api::relay::Relay;
use carechain_api::state::AppState;

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
            signups_per_client_per_hour: 1_000_000,
            signups_per_hour: 1_000_000,
            patient_registrations_per_client_per_hour: 1_000_000,
            patient_registrations_per_hour: 1_000_000,
            pool_size: 4,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            workers: 1,
            ..Config::default()
        };
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let relay = Relay::builder(config)
                    .jwt_secret(&[7u8; 32])
                    .disable_signals()
                    .start()
                    .expect("the relay starts");
                tx.send((relay.addr(), relay.state().clone(), relay.handle()))
                    .expect("the test waits for the relay");
                relay.wait().await.expect("the relay stops cleanly");
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
