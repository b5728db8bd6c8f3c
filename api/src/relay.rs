//! The relay's one start-up path: configuration → database → ledger backend
//! → push → application → bound HTTP server, with a handle that knows its
//! address and stops gracefully.
//!
//! `carechain-relay serve`, the integration tests, the push tests and the
//! load example all start the relay through [`RelayBuilder`], so a new
//! start-up step (a background task, a setting) is added here once. The
//! defaults are those of `serve`; tests and examples override only what they
//! must (a fixed JWT secret, push settings, a database shared on purpose, a
//! loopback port, no signal handlers).

use std::net::SocketAddr;
use std::path::Path;

use actix_web::dev::ServerHandle;
use actix_web::rt::task::JoinHandle;
use actix_web::{HttpServer, web};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::db;
use crate::error::ApiError;
use crate::push::Push;
use crate::state::{AppState, open_ledger};

/// How long a graceful stop waits for open requests, seconds.
const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// Assembles and starts a relay; see the module docs.
#[must_use]
pub struct RelayBuilder {
    config: Config,
    database_url: Option<String>,
    jwt_secret: Option<Zeroizing<Vec<u8>>>,
    push: Option<Push>,
    exclusive_database: bool,
    signals: bool,
}

impl RelayBuilder {
    /// A builder with `serve`'s behaviour for `config`.
    pub fn new(config: Config) -> RelayBuilder {
        RelayBuilder {
            config,
            database_url: None,
            jwt_secret: None,
            push: None,
            exclusive_database: true,
            signals: true,
        }
    }

    /// The configuration the relay will run with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Uses `url` instead of the configured database.
    pub fn database_url(mut self, url: impl Into<String>) -> RelayBuilder {
        self.database_url = Some(url.into());
        self
    }

    /// Signs access tokens with `secret` instead of the configured key file.
    pub fn jwt_secret(mut self, secret: &[u8]) -> RelayBuilder {
        self.jwt_secret = Some(Zeroizing::new(secret.to_vec()));
        self
    }

    /// Uses these push settings instead of the VAPID key in the data
    /// directory and the environment's push settings.
    pub fn push(mut self, push: Push) -> RelayBuilder {
        self.push = Some(push);
        self
    }

    /// Does not take the lock that makes this process the only one on its
    /// SQLite database (tests that run two relays on one file on purpose).
    pub fn shared_database(mut self) -> RelayBuilder {
        self.exclusive_database = false;
        self
    }

    /// Listens on `addr` instead of the configured address (port 0: any free one).
    pub fn listen(mut self, addr: SocketAddr) -> RelayBuilder {
        self.config.listen = addr;
        self
    }

    /// Runs `n` HTTP worker threads (0: one per core).
    pub fn workers(mut self, n: usize) -> RelayBuilder {
        self.config.workers = n;
        self
    }

    /// Leaves SIGINT/SIGTERM to the caller (tests, examples, several relays in one process).
    pub fn disable_signals(mut self) -> RelayBuilder {
        self.signals = false;
        self
    }

    /// The database URL the relay uses.
    fn effective_database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| self.config.database_url())
    }

    /// On PostgreSQL, which several relays may share, the secrets every
    /// relay must hold alike come from configuration: a key each relay made
    /// in its own data directory would make other relays' tokens invalid
    /// and other relays' Web Push subscriptions unverifiable.
    fn check_shared_secrets(&self, url: &str) -> Result<(), ApiError> {
        if !db::is_postgres(url) {
            return Ok(());
        }
        let mut missing = Vec::new();
        if self.jwt_secret.is_none() && std::env::var_os("CARECHAIN_JWT_SECRET").is_none() {
            missing.push("CARECHAIN_JWT_SECRET");
        }
        if self.push.is_none() && std::env::var_os("CARECHAIN_VAPID_PRIVATE_KEY").is_none() {
            missing.push("CARECHAIN_VAPID_PRIVATE_KEY");
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(ApiError::internal(format!(
            "a relay on PostgreSQL shares its database with any other relay on it, so every \
             relay needs the same secrets: set {} (base64url, the same value on every relay; \
             see docs/relays.md)",
            missing.join(" and ")
        )))
    }

    /// Opens the state: the data directory, the ledger, the JWT key, the
    /// database (locked and migrated) and push delivery. Push settings given
    /// to [`RelayBuilder::push`] go to the first state opened.
    pub fn open(&mut self) -> Result<AppState, ApiError> {
        let config = self.config.clone();
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            ApiError::internal(format!(
                "cannot create the data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let url = self.effective_database_url();
        self.check_shared_secrets(&url)?;
        let ledger = open_ledger(&config)?;
        let secret = match &self.jwt_secret {
            Some(secret) => secret.clone(),
            None => config
                .jwt_secret()
                .map_err(|e| ApiError::internal(e.to_string()))?,
        };
        // SQLite: this process alone uses the file (see `db::lock`).
        let sqlite = !db::is_postgres(&url);
        let db_lock = if sqlite && self.exclusive_database {
            Some(db::lock::DbLock::acquire(Path::new(&url))?)
        } else {
            None
        };
        let pool = db::connect(&url, config.pool_size)?;
        let push = match self.push.take() {
            Some(push) => push,
            None => Push::open(&config.data_dir)?,
        };
        let mut state = AppState::new(config, pool, ledger, &secret).with_push(push);
        state.db_lock = db_lock;
        state.shared_database = !sqlite;
        Ok(state)
    }

    /// Serves `state` on the configured address and starts the outbox
    /// producer and the Web Push worker (which resumes the deliveries an
    /// earlier run left pending).
    pub fn serve(&self, state: web::Data<AppState>) -> Result<Relay, ApiError> {
        let listen = self.config.listen;
        let metrics = crate::app::metrics()?;
        crate::push::spawn_producer(state.clone());
        // Other relays may share the database: hear their outbox rows and
        // keep this relay's presence lease.
        if state.shared_database {
            let url = self.effective_database_url();
            crate::push::listen::spawn(url, &state.push.hub).map_err(|e| {
                ApiError::internal(format!("cannot start the outbox listener: {e}"))
            })?;
            crate::push::spawn_presence(state.clone());
        }
        let worker = crate::push::spawn_worker(state.clone());
        let shared = state.clone();
        let mut server = HttpServer::new(move || crate::app::app(shared.clone(), metrics.clone()))
            .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS);
        if self.config.workers > 0 {
            server = server.workers(self.config.workers);
        }
        if !self.signals {
            server = server.disable_signals();
        }
        let server = server
            .bind(listen)
            .map_err(|e| ApiError::internal(format!("cannot listen on {listen}: {e}")))?;
        let addr = server.addrs()[0];
        tracing::info!(listen = %addr, "relay listening");
        let server = server.run();
        let handle = server.handle();
        Ok(Relay {
            addr,
            state,
            handle,
            server: actix_web::rt::spawn(server),
            _worker: worker,
        })
    }

    /// Opens the state and serves it: [`RelayBuilder::open`] then [`RelayBuilder::serve`].
    pub fn start(mut self) -> Result<Relay, ApiError> {
        let state = web::Data::new(self.open()?);
        self.serve(state)
    }
}

/// A running relay: its address, its state, and a graceful stop.
pub struct Relay {
    addr: SocketAddr,
    state: web::Data<AppState>,
    handle: ServerHandle,
    server: JoinHandle<std::io::Result<()>>,
    _worker: JoinHandle<()>,
}

impl Relay {
    /// A builder for `config`; see [`RelayBuilder`].
    pub fn builder(config: Config) -> RelayBuilder {
        RelayBuilder::new(config)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The state every worker shares.
    pub fn state(&self) -> &web::Data<AppState> {
        &self.state
    }

    /// A handle that stops the server from elsewhere (another thread, a `Drop`).
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Stops accepting, lets open requests finish, then stores what waits
    /// for a group commit.
    pub async fn stop(self) -> Result<(), ApiError> {
        self.handle.stop(true).await;
        self.wait().await
    }

    /// Waits until the server stops (on a signal or [`Relay::stop`]), then
    /// stores the outbox rows and idempotency records still waiting for a
    /// group commit.
    pub async fn wait(self) -> Result<(), ApiError> {
        self.server
            .await
            .map_err(|e| ApiError::internal(format!("server: {e}")))?
            .map_err(|e| ApiError::internal(format!("server: {e}")))?;
        self.state.writes.flush().await?;
        if self.state.shared_database {
            let relay = self.state.push.instance.clone();
            db::run(&self.state.pool, move |c| {
                crate::push::presence::leave(c, &relay)
            })
            .await?;
        }
        tracing::info!("relay stopped");
        Ok(())
    }
}
