//! Push delivery (issue 4, item 5): contract events become durable outbox
//! rows for their recipients, delivered over the `/v1/events` WebSocket with
//! at-least-once semantics, and announced by Web Push to actors who are not
//! connected.
//!
//! - [`producer`] follows the ledger's events from `ledger_cursor` and writes
//!   one outbox row per recipient (ids only, never medical data).
//! - [`hub`] knows which actors have open sockets and wakes them;
//!   [`listen`] wakes them for rows another relay on the same PostgreSQL
//!   database stored; [`presence`] records which relay holds whose sockets.
//! - [`ws`] serves `/v1/events`; [`subscriptions`] the Web Push subscriptions.
//! - [`webpush`] encrypts (RFC 8291) and sends (RFC 8030, VAPID RFC 8292)
//!   a notification carrying only `{"id": <outbox id>}`.
//! - [`deliveries`] holds the durable Web Push deliveries, written with
//!   their outbox row; [`worker`] sends them with retries and backoff, and
//!   a restarted relay resumes the pending ones.
//! - [`store`] holds the repository functions (outbox, acks, subscriptions).
//!
//! Configuration (environment): `CARECHAIN_VAPID_PRIVATE_KEY` (base64url
//! P-256 scalar; otherwise `vapid.key`, mode 0600, in the data directory,
//! created at first start), `CARECHAIN_VAPID_SUBJECT` (a `mailto:` URI),
//! `CARECHAIN_PUSH_TTL_SECS`, `CARECHAIN_PUSH_MAX_ATTEMPTS`,
//! `CARECHAIN_PUSH_RETRY_BASE_MS`, and `CARECHAIN_PUSH_ALLOW` (a comma-separated
//! allow-list of hosts and CIDR blocks that may receive pushes although they
//! are not public, over `http` too: UnifiedPush distributors on a LAN, test
//! receivers; see [`endpoint`]).

pub mod deliveries;
pub mod endpoint;
pub mod hub;
pub mod listen;
pub mod presence;
pub mod producer;
pub mod store;
pub mod subscriptions;
pub mod webpush;
pub mod worker;
pub mod ws;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tokio::sync::Notify;
use utoipa::OpenApi;

use crate::db::DbPool;
pub use crate::db::outbox::OutboxEvent;
use crate::state::AppState;
use webpush::{PushError, Vapid};

/// Push settings.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// The VAPID `sub` claim (`mailto:` or `https:` contact).
    pub subject: String,
    /// The `TTL` header of Web Push messages, seconds.
    pub ttl_secs: u32,
    /// Hosts and CIDR blocks pushed to although not public (and over `http`).
    pub allow: endpoint::AllowList,
    /// The first retry's delay; each further one doubles it (with jitter).
    pub retry_base: Duration,
    /// The longest backoff between retries.
    pub retry_max: Duration,
    /// The longest `Retry-After` honoured (a longer one is cut to this).
    pub retry_after_max: Duration,
    /// Attempts per delivery before it is given up.
    pub max_attempts: u32,
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            subject: "mailto:admin@localhost".into(),
            ttl_secs: 86_400,
            allow: endpoint::AllowList::default(),
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(3600),
            retry_after_max: Duration::from_secs(6 * 3600),
            max_attempts: 12,
        }
    }
}

impl PushConfig {
    /// Defaults overridden by `CARECHAIN_VAPID_SUBJECT`, `CARECHAIN_PUSH_TTL_SECS`,
    /// `CARECHAIN_PUSH_MAX_ATTEMPTS`, `CARECHAIN_PUSH_RETRY_BASE_MS` and
    /// `CARECHAIN_PUSH_ALLOW`; refuses a malformed allow-list.
    pub fn from_env() -> Result<PushConfig, PushError> {
        let mut config = PushConfig::default();
        if let Ok(subject) = std::env::var("CARECHAIN_VAPID_SUBJECT") {
            config.subject = subject;
        }
        if let Some(ttl) = std::env::var("CARECHAIN_PUSH_TTL_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            config.ttl_secs = ttl;
        }
        if let Some(n) = std::env::var("CARECHAIN_PUSH_MAX_ATTEMPTS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            config.max_attempts = n;
        }
        if let Some(ms) = std::env::var("CARECHAIN_PUSH_RETRY_BASE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            config.retry_base = Duration::from_millis(ms);
        }
        if let Ok(list) = std::env::var("CARECHAIN_PUSH_ALLOW") {
            config.allow = endpoint::AllowList::parse_csv(&list).map_err(PushError::Config)?;
        }
        Ok(config)
    }
}

/// Push delivery shared by the producer, the Web Push worker and the handlers.
#[derive(Debug)]
pub struct Push {
    /// This relay process's id among the relays sharing the database (see [`presence`]).
    pub instance: String,
    /// Open sockets per actor.
    pub hub: hub::Hub,
    /// Settings.
    pub config: PushConfig,
    /// The VAPID key; Web Push is off without one.
    pub vapid: Option<Vapid>,
    /// Wakes the Web Push worker when deliveries were enqueued.
    pub wake: Arc<Notify>,
}

impl Push {
    /// Push with `config` and `vapid`.
    pub fn new(config: PushConfig, vapid: Option<Vapid>) -> Push {
        Push {
            instance: uuid::Uuid::new_v4().to_string(),
            hub: hub::Hub::default(),
            config,
            vapid,
            wake: Arc::default(),
        }
    }

    /// Whether `actor` has an open socket on this relay or, when the
    /// database is `shared`, on another live relay sharing it.
    pub fn online(
        &self,
        conn: &mut crate::db::DbConnection,
        actor: &str,
        shared: bool,
    ) -> Result<bool, crate::error::ApiError> {
        Ok(self.hub.is_online(actor)
            || (shared && presence::online(conn, actor, crate::db::now_ms())?))
    }

    /// Push from the environment, with the VAPID key from
    /// `CARECHAIN_VAPID_PRIVATE_KEY` or `data_dir/vapid.key` (created if absent).
    pub fn open(data_dir: &Path) -> Result<Push, PushError> {
        let vapid = match std::env::var("CARECHAIN_VAPID_PRIVATE_KEY") {
            Ok(key) => Vapid::from_b64(&zeroize::Zeroizing::new(key))?,
            Err(_) => Vapid::load_or_create(&data_dir.join("vapid.key"))?,
        };
        Ok(Push::new(PushConfig::from_env()?, Some(vapid)))
    }

    /// Called by the producer after outbox row `id` for `actor` is committed
    /// (with its Web Push deliveries): wakes the actor's sockets and the Web
    /// Push worker, which skips actors with an open socket.
    pub fn delivered(&self, _pool: &DbPool, actor: &str, id: i64) {
        self.hub.notify(actor, id);
        self.wake.notify_one();
    }
}

impl Default for Push {
    fn default() -> Push {
        Push::new(PushConfig::default(), None)
    }
}

/// Registers the push routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(ws::events)
        .service(subscriptions::create)
        .service(subscriptions::remove);
}

/// The push routes' OpenAPI description, to merge into the main document.
#[derive(OpenApi)]
#[openapi(
    paths(ws::events, subscriptions::create, subscriptions::remove),
    components(schemas(
        subscriptions::NewSubscription,
        subscriptions::SubscriptionKeys,
        subscriptions::SubscriptionCreated
    ))
)]
pub struct PushDoc;

/// Starts the outbox producer on the current runtime.
pub fn spawn_producer(state: web::Data<AppState>) {
    actix_web::rt::spawn(producer::run(state));
}

/// Starts refreshing this relay's presence lease on the current runtime.
pub fn spawn_presence(state: web::Data<AppState>) {
    actix_web::rt::spawn(presence::run(state));
}

/// Starts the Web Push worker on the current runtime (it ends at once without a VAPID key).
pub fn spawn_worker(state: web::Data<AppState>) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(worker::run(state))
}
