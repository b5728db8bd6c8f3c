//! CareChain's end-to-end tests live in `tests/e2e/`: they start the real
//! `carechain-relay` binary on a temporary data directory (SQLite or a fresh
//! PostgreSQL database, and the embedded ledger) and drive the whole story
//! through the relay's HTTP API and the phone's library (`carechain-mobile`).
//! This library is empty; see `README.md`.
