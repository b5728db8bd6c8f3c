//! Push delivery (issue 4, item 5): contract events become durable outbox
//! rows for their recipients, delivered over the `/v1/events` WebSocket with
//! at-least-once semantics, and announced by Web Push to actors who are not
//! connected.
//!
//! - [`producer`] follows the ledger's events from `ledger_cursor` and writes
//!   one outbox row per recipient (ids only, never medical data).
//! - [`hub`] knows which actors have open sockets and wakes them.
//! - [`ws`] serves `/v1/events`; [`subscriptions`] the Web Push subscriptions.
//! - [`webpush`] encrypts (RFC 8291) and sends (RFC 8030, VAPID RFC 8292)
//!   a notification carrying only `{"id": <outbox id>}`.
//! - [`store`] holds the repository functions (outbox, acks, subscriptions).
//!
//! Configuration (environment): `CARECHAIN_VAPID_PRIVATE_KEY` (base64url
//! P-256 scalar; otherwise `vapid.key`, mode 0600, in the data directory,
//! created at first start), `CARECHAIN_VAPID_SUBJECT` (a `mailto:` URI),
//! `CARECHAIN_PUSH_TTL_SECS`, and `CARECHAIN_PUSH_ALLOW_LOOPBACK_HTTP=1`
//! (tests only: accept `http://` endpoints on loopback).

pub mod hub;
pub mod producer;
pub mod store;
pub mod subscriptions;
pub mod webpush;
pub mod ws;

use std::path::Path;
use std::time::Duration;

use actix_web::web;
use utoipa::OpenApi;

pub use crate::db::outbox::OutboxEvent;
use crate::db::{self, DbPool};
use crate::state::AppState;
use webpush::{Outcome, PushError, Vapid};

/// Push settings.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// The VAPID `sub` claim (`mailto:` or `https:` contact).
    pub subject: String,
    /// The `TTL` header of Web Push messages, seconds.
    pub ttl_secs: u32,
    /// Accept `http://` subscription endpoints on loopback hosts (tests).
    pub allow_loopback_http: bool,
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            subject: "mailto:admin@localhost".into(),
            ttl_secs: 86_400,
            allow_loopback_http: false,
        }
    }
}

impl PushConfig {
    /// Defaults overridden by `CARECHAIN_VAPID_SUBJECT`, `CARECHAIN_PUSH_TTL_SECS`
    /// and `CARECHAIN_PUSH_ALLOW_LOOPBACK_HTTP`.
    pub fn from_env() -> PushConfig {
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
        config.allow_loopback_http = std::env::var("CARECHAIN_PUSH_ALLOW_LOOPBACK_HTTP")
            .is_ok_and(|v| v == "1" || v == "true");
        config
    }
}

/// Push delivery shared by the producer and the handlers.
#[derive(Debug, Default)]
pub struct Push {
    /// Open sockets per actor.
    pub hub: hub::Hub,
    /// Settings.
    pub config: PushConfig,
    /// The VAPID key; Web Push is off without one.
    pub vapid: Option<Vapid>,
    http: reqwest::Client,
}

impl Push {
    /// Push with `config` and `vapid`.
    pub fn new(config: PushConfig, vapid: Option<Vapid>) -> Push {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Push {
            hub: hub::Hub::default(),
            config,
            vapid,
            http,
        }
    }

    /// Push from the environment, with the VAPID key from
    /// `CARECHAIN_VAPID_PRIVATE_KEY` or `data_dir/vapid.key` (created if absent).
    pub fn open(data_dir: &Path) -> Result<Push, PushError> {
        let vapid = match std::env::var("CARECHAIN_VAPID_PRIVATE_KEY") {
            Ok(key) => Vapid::from_b64(&zeroize::Zeroizing::new(key))?,
            Err(_) => Vapid::load_or_create(&data_dir.join("vapid.key"))?,
        };
        Ok(Push::new(PushConfig::from_env(), Some(vapid)))
    }

    /// Called by the producer after outbox row `id` for `actor` is committed:
    /// wakes the actor's sockets, or sends a Web Push when it has none.
    pub fn delivered(&self, pool: &DbPool, actor: &str, id: i64) {
        if self.hub.notify(actor, id) {
            return;
        }
        let Some(vapid) = self.vapid.clone() else {
            return;
        };
        let job = WebPushJob {
            pool: pool.clone(),
            http: self.http.clone(),
            vapid,
            config: self.config.clone(),
            actor: actor.to_owned(),
            id,
        };
        actix_web::rt::spawn(job.run());
    }
}

/// One notification to every subscription of an actor.
struct WebPushJob {
    pool: DbPool,
    http: reqwest::Client,
    vapid: Vapid,
    config: PushConfig,
    actor: String,
    id: i64,
}

impl WebPushJob {
    async fn run(self) {
        let actor = self.actor.clone();
        let subs = match db::run(&self.pool, move |c| store::subscriptions(c, &actor)).await {
            Ok(subs) => subs,
            Err(e) => {
                tracing::warn!(error = %e, "cannot load push subscriptions");
                return;
            }
        };
        let plaintext = serde_json::json!({ "id": self.id }).to_string();
        for sub in subs {
            let prepared = (|| {
                let origin =
                    webpush::endpoint_origin(&sub.endpoint, self.config.allow_loopback_http)?;
                let ua = webpush::parse_p256dh(&webpush::b64(&sub.p256dh)?)?;
                let body =
                    webpush::encrypt_fresh(plaintext.as_bytes(), &ua, &webpush::b64(&sub.auth)?)?;
                let auth = self.vapid.authorization(
                    &origin,
                    &self.config.subject,
                    db::now(),
                    12 * 3600,
                )?;
                Ok::<_, PushError>((body, auth))
            })();
            let outcome = match prepared {
                Ok((body, auth)) => {
                    webpush::send(&self.http, &sub.endpoint, &auth, body, self.config.ttl_secs)
                        .await
                }
                Err(e) => {
                    tracing::warn!(error = %e, subscription = %sub.id, "cannot prepare a push");
                    Outcome::Failed
                }
            };
            tracing::debug!(subscription = %sub.id, ?outcome, "web push");
            if outcome == Outcome::Gone {
                let id = sub.id.clone();
                if let Err(e) = db::run(&self.pool, move |c| store::remove(c, &id)).await {
                    tracing::warn!(error = %e, "cannot remove a gone subscription");
                }
            }
        }
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
