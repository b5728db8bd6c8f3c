//! CareChain relay: the HTTP API doctors, insurers, admins and phones talk to.
//!
//! The relay is not trusted with medical data or consent. It authenticates
//! callers (argon2id passwords or a patient's signed challenge; JWT access
//! tokens and rotating refresh tokens), checks that each signed statement is
//! the caller's and fits the endpoint, and forwards it to the ledger, whose
//! contract verifies and decides. Its own database holds accounts, public
//! keys, hashed tokens, idempotency records and the push outbox — never
//! medical data in the clear.
//!
//! Layout: [`handlers`] (one file per resource) call [`db`] repository
//! functions or [`forward`]; [`types`] are the wire types; [`error::ApiError`]
//! is the one error, rendered as RFC 9457 problems; [`config::Config`] is
//! loaded once and shared through [`state::AppState`]; [`relay::Relay`]
//! assembles and starts the whole relay.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod forward;
pub mod handlers;
pub mod idempotency;
pub mod keystore;
pub mod methods;
pub mod openapi;
pub mod push;
pub mod relay;
pub mod setup;
pub mod state;
pub mod types;
