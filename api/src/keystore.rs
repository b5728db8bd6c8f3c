//! The admin's keystore, in the staff keystore format of
//! `carechain_core::wallet` (argon2id + XChaCha20-Poly1305, `CCADMKS1`), and
//! [`write_private`], how every secret file of the relay and the CLI is
//! written: owner-only, synced before it is trusted.

/// The admin's secret keys: the core staff keystore.
pub use carechain_core::wallet::{KeystoreError, StaffKeys as AdminKeys};

/// How every secret file is written: core's one implementation.
pub use carechain_core::wallet::write_private;
