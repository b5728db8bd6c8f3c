//! What every handler shares, built once at start and passed as `web::Data`.

use std::sync::Arc;

use carechain_chaincode::CareChain;
use carechain_ledger::fabric::FabricLedger;
use carechain_ledger::{EmbeddedLedger, EmbeddedOptions, Ledger};

use crate::auth::LoginLimiter;
use crate::auth::tokens::JwtKeys;
use crate::config::{Config, LedgerKind};
use crate::db::{self, DbPool};
use crate::error::ApiError;

/// The application state.
pub struct AppState {
    /// The configuration.
    pub config: Config,
    /// The database pool.
    pub pool: DbPool,
    /// Group commit of the small durable writes (idempotency records, the outbox).
    pub writes: db::group::GroupWriter,
    /// The `Idempotency-Key`s of ledger-bound requests run here recently.
    pub recent: crate::idempotency::Recent,
    /// Whether other relays may share the database (PostgreSQL): then
    /// `Idempotency-Key` bindings are kept in it, not only in [`Self::recent`].
    pub shared_database: bool,
    /// The lock on the SQLite database, which this process alone uses.
    pub db_lock: Option<db::lock::DbLock>,
    /// The ledger.
    pub ledger: Arc<dyn Ledger>,
    /// Access token keys.
    pub jwt: JwtKeys,
    /// Login rate limits.
    pub limiter: LoginLimiter,
    /// Sign-up and patient registration rate limits.
    pub creation: crate::auth::limiter::CreationLimiter,
    /// Accounts recently seen active (the `Caller` extractor's memory).
    pub active: crate::auth::active::ActiveCache,
    /// Push delivery (outbox producer, sockets, Web Push).
    pub push: crate::push::Push,
}

impl AppState {
    /// Opens the database (running migrations) and the ledger of `config`,
    /// as `serve` does (see [`crate::relay::RelayBuilder::open`]).
    pub fn open(config: Config) -> Result<AppState, ApiError> {
        crate::relay::RelayBuilder::new(config).open()
    }

    /// Replaces the push delivery settings (VAPID key, endpoints policy).
    pub fn with_push(mut self, push: crate::push::Push) -> AppState {
        self.push = push;
        self
    }

    /// Assembles a state from its parts.
    pub fn new(
        config: Config,
        pool: DbPool,
        ledger: Arc<dyn Ledger>,
        jwt_secret: &[u8],
    ) -> AppState {
        let jwt = JwtKeys::new(jwt_secret, &config.audience, config.access_token_ttl_secs);
        let limiter = LoginLimiter::new(config.login_attempts_per_minute);
        let creation = crate::auth::limiter::CreationLimiter::new(&config);
        AppState {
            config,
            writes: db::group::GroupWriter::start(pool.clone()),
            recent: crate::idempotency::Recent::default(),
            shared_database: false,
            db_lock: None,
            pool,
            ledger,
            jwt,
            limiter,
            creation,
            active: crate::auth::active::ActiveCache::default(),
            push: crate::push::Push::default(),
        }
    }
}

/// Opens the ledger `config` selects: the embedded one in the data
/// directory (created if needed), or the Fabric peer of `[fabric]`.
pub fn open_ledger(config: &Config) -> Result<Arc<dyn Ledger>, ApiError> {
    if config.ledger == LedgerKind::Fabric {
        let fabric = config.fabric.clone().ok_or_else(|| {
            ApiError::bad_request(
                "ledger = \"fabric\" needs a [fabric] table (peer_endpoint, msp_id, cert, key, channel, chaincode), found none",
            )
        })?;
        let ledger = FabricLedger::connect(fabric)
            .map_err(|e| ApiError::bad_request(format!("fabric ledger: {e}")))?;
        tracing::info!(
            peer = %ledger.config().peer_endpoint,
            channel = %ledger.config().channel,
            chaincode = %ledger.config().chaincode,
            "forwarding to Fabric"
        );
        return Ok(Arc::new(ledger));
    }
    let dir = config.ledger_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| ApiError::internal(format!("cannot create {}: {e}", dir.display())))?;
    let ledger = EmbeddedLedger::open(&dir, Arc::new(CareChain), EmbeddedOptions::default())?;
    Ok(Arc::new(ledger))
}
