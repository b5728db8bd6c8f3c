//! The one error type crossing the FFI, with only the cases an app handles
//! differently (after application-services' `ApiError`): internal errors of
//! core, reqwest and the relay are folded into these, their messages kept as
//! the `reason` (never with secret bytes).
//!
//! Every variant carries at least one field: uniffi's Kotlin and Python
//! bindings build an exception's message from its fields (`reason=…`), so a
//! variant without fields would reach the app with an empty message.

use carechain_client::ClientError;
use carechain_core::wallet::WalletError;

/// What went wrong, grouped by what the app should do about it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum MobileError {
    /// The passphrase or keystore key does not open this wallet or backup: ask again.
    #[error("wrong secret: {reason}")]
    WrongSecret {
        /// What did not open (never the secret itself).
        reason: String,
    },
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
            WalletError::WrongPassphraseOrKey => MobileError::WrongSecret {
                reason: err.to_string(),
            },
            WalletError::EmptyPassphrase | WalletError::WeakPassphrase { .. } => {
                MobileError::InvalidInput {
                    reason: err.to_string(),
                }
            }
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

#[cfg(test)]
mod tests {
    use carechain_core::wallet::KdfParams;

    use super::*;

    /// The fields uniffi builds a Kotlin or Python exception's message from.
    fn message_fields(err: &MobileError) -> Vec<&str> {
        match err {
            MobileError::WrongSecret { reason }
            | MobileError::WalletUnusable { reason }
            | MobileError::Keystore { reason }
            | MobileError::InvalidInput { reason }
            | MobileError::NotAuthenticated { reason }
            | MobileError::NotFound { reason }
            | MobileError::Network { reason }
            | MobileError::Integrity { reason }
            | MobileError::Internal { reason } => vec![reason],
            MobileError::Refused { code, reason, .. } => vec![code, reason],
        }
    }

    #[test]
    fn every_wallet_error_reaches_the_app_with_its_message() {
        let cases = [
            WalletError::WrongPassphraseOrKey,
            WalletError::EmptyPassphrase,
            WalletError::WeakPassphrase {
                min_chars: 12,
                found_chars: 3,
            },
            WalletError::NotAWallet,
            WalletError::KdfTooCostly {
                found: KdfParams {
                    m_kib: 1 << 20,
                    t: 64,
                    p: 1,
                },
                max: KdfParams::LIMIT,
            },
            WalletError::Corrupted {
                reason: "truncated".into(),
            },
        ];
        for err in cases {
            let text = err.to_string();
            let mobile = MobileError::from(err);
            let fields = message_fields(&mobile);
            assert!(
                fields.iter().any(|f| *f == text),
                "{mobile:?} lost the message {text:?}"
            );
            assert!(mobile.to_string().contains(&text));
        }
        let wrong = MobileError::from(WalletError::WrongPassphraseOrKey);
        assert!(
            matches!(&wrong, MobileError::WrongSecret { reason } if reason.contains("wrong passphrase"))
        );
        assert!(matches!(
            MobileError::from(WalletError::WeakPassphrase {
                min_chars: 12,
                found_chars: 3
            }),
            MobileError::InvalidInput { .. }
        ));
    }
}
