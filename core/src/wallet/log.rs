//! The wallet's local, append-only log of every statement the patient signed.
//!
//! The log lets the phone show the patient what it has consented to, and lets
//! a restored wallet resubmit statements the relay may not have seen. It is
//! stored only inside the sealed wallet file and backups; entries are never
//! edited or removed.

use serde::{Deserialize, Serialize};

/// One statement the patient signed, newest last in [`crate::wallet::Wallet::log`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The compact JWS exactly as returned by [`crate::wallet::Wallet::sign`].
    pub token: String,
    /// The action kind, as [`crate::statement::Action::kind`] names it.
    pub kind: String,
    /// The statement's one-time nonce.
    pub jti: String,
    /// When it was issued (Unix seconds).
    pub iat: i64,
}
