//! The one error type crossing the FFI, with only the cases an app handles
//! differently (after application-services' `ApiError`): internal errors of
//! core, reqwest and the relay are folded into these, their messages kept as
//! the `reason` (never with secret bytes).

use carechain_client::ClientError;
use carechain_core::wallet::WalletError;

/// What went wrong, grouped by what the app should do about it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum MobileError {
    /// The passphrase or keystore key does not open this wallet or backup: ask again.
    #[error("wrong passphrase or key")]
    WrongSecret,
    /// The wallet file or backup cannot be used (damaged, wrong kind, newer format).
    #[error("the wallet cannot be used: {reason}")]
    WalletUnusable {
        /// What is wrong.
        reason: String,
    },
    /// The platform keystore the app supplied failed or returned an unusable key.
    #[error("the platform keystore failed: {reason}")]
    Keystore {
        /// What the keystore or the library reported.
        reason: String,
    },
    /// An argument the app passed is invalid (an id, a code, a date, an empty passphrase).
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// Which argument and what was expected.
        reason: String,
    },
    /// Not logged in, or the session ended: call `login` again.
    #[error("not authenticated: {reason}")]
    NotAuthenticated {
        /// The relay's explanation.
        reason: String,
    },
    /// The relay or the ledger refused the action (forbidden, conflict, already used, expired).
    #[error("refused ({status}): {reason}")]
    Refused {
        /// The HTTP status (403, 409, 422, …).
        status: u16,
        /// The problem type's last path segment (`conflict`, `forbidden`, a ledger code …).
        code: String,
        /// The relay's explanation.
        reason: String,
    },
    /// No such object, or not one this patient may see.
    #[error("not found: {reason}")]
    NotFound {
        /// What was looked up.
        reason: String,
    },
    /// The relay could not be reached or failed: retry later.
    #[error("network or relay unavailable: {reason}")]
    Network {
        /// The transport error or the relay's 5xx explanation.
        reason: String,
    },
    /// Data from the relay failed a check on the phone (does not decrypt, does not parse).
    #[error("integrity check failed: {reason}")]
    Integrity {
        /// Which object and which check.
        reason: String,
    },
    /// A bug or an unexpected failure inside the library or a foreign callback.
    #[error("internal error: {reason}")]
    Internal {
        /// What failed.
        reason: String,
    },
}

impl From<WalletError> for MobileError {
    fn from(err: WalletError) -> Self {
        match err {
            WalletError::WrongPassphraseOrKey => MobileError::WrongSecret,
            WalletError::EmptyPassphrase => MobileError::InvalidInput {
                reason: err.to_string(),
            },
            WalletError::Keygen(_) | WalletError::Statement(_) => MobileError::Internal {
                reason: err.to_string(),
            },
            other => MobileError::WalletUnusable {
                reason: other.to_string(),
            },
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for MobileError {
    fn from(err: uniffi::UnexpectedUniFFICallbackError) -> Self {
        MobileError::Internal {
            reason: format!("a foreign callback failed: {}", err.reason),
        }
    }
}

impl From<ClientError> for MobileError {
    fn from(err: ClientError) -> Self {
        let reason = err.to_string();
        let refused = |status: u16, code: &str, reason: String| MobileError::Refused {
            status,
            code: code.to_owned(),
            reason,
        };
        match err {
            ClientError::InvalidInput(reason) => MobileError::InvalidInput { reason },
            ClientError::Unauthenticated { detail } => {
                MobileError::NotAuthenticated { reason: detail }
            }
            // Whoever found nothing, the relay or the contract, the app shows "not found".
            ClientError::NotFound { detail, .. }
            | ClientError::Ledger {
                status: 404,
                detail,
                ..
            } => MobileError::NotFound { reason: detail },
            ClientError::Forbidden { code, detail } => refused(403, &code, detail),
            ClientError::RateLimited { detail, .. } => refused(429, "rate_limited", detail),
            ClientError::Ledger {
                status,
                code,
                detail,
            } => refused(status, code.as_str(), detail),
            ClientError::Refused {
                status: 400,
                detail,
                ..
            } => MobileError::InvalidInput { reason: detail },
            ClientError::Refused {
                status,
                code,
                detail,
            } => refused(status, &code, detail),
            // A claim the phone will not file: `not_covered` is the claim's
            // content (422), anything else the policy's state (409).
            ClientError::Precondition { code, detail } => {
                refused(if code == "not_covered" { 422 } else { 409 }, code, detail)
            }
            ClientError::Unavailable { detail } => MobileError::Network { reason: detail },
            ClientError::Integrity(_) | ClientError::Protocol(_) => {
                MobileError::Integrity { reason }
            }
            ClientError::Wallet(e) => e.into(),
            ClientError::Internal(_) => MobileError::Internal { reason },
        }
    }
}

/// An invalid-argument failure.
pub(crate) fn invalid(reason: impl Into<String>) -> MobileError {
    MobileError::InvalidInput {
        reason: reason.into(),
    }
}
