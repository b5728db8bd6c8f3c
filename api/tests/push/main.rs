//! Push delivery tests: the outbox producer, the `/v1/events` WebSocket and
//! Web Push to a localhost receiver. Reuses the relay tests' `TestApp` and
//! world helpers (by path, unchanged).
#![allow(clippy::unwrap_used, missing_docs, dead_code)]

#[path = "../relay/support.rs"]
mod support;
#[path = "../relay/world.rs"]
mod world;

mod durable;
mod harness;
mod producer;
mod relays;
mod ssrf;
mod webpush;
mod ws;
