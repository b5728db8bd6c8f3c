//! In-process tests of the relay: every endpoint, the authorization matrix,
//! and hostile input. One binary, so Paillier keys are made once.
#![allow(clippy::unwrap_used, missing_docs)]

mod cli;
mod config;
mod contexts;
mod creation;
mod database;
mod errors;
mod fabric;
mod files;
mod flow;
mod group;
mod hardening;
mod idempotency;
mod identities;
mod limits;
mod lists;
mod matrix;
mod methods;
mod paillier_cap;
mod recovery;
mod support;
mod world;
