//! Push delivery boundary (issue item 5, not built here).
//!
//! Events for a user go into the durable `outbox` table
//! ([`crate::db::outbox`]), keyed by recipient actor id with a monotonic id;
//! `ledger_cursor` holds the next ledger block a producer will turn into
//! outbox rows. The WebSocket endpoint (`/v1/events`) and the Web Push
//! adapter will consume the outbox from here, resuming after a client's last
//! acknowledged id. Nothing in the relay writes to the outbox yet.

pub use crate::db::outbox::OutboxEvent;
