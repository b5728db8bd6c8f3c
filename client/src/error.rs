//! [`ClientError`]: what went wrong, grouped by what a caller (the phone, the
//! CLI, a test) does about it. RFC 9457 problems from the relay are decoded
//! here; a contract refusal keeps the contract's [`ErrorCode`].

use std::time::Duration;

use carechain_core::protocol::ProtocolError;
use carechain_core::wallet::WalletError;
use reqwest::StatusCode;
use serde::Deserialize;

use carechain_core::ledger::ErrorCode;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// An argument is invalid (a URL, an id, a code, a date): fix the input.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// No valid credentials, even after logging in again: ask the user to log in.
    #[error("not authenticated: {detail}")]
    Unauthenticated {
        /// The relay's explanation.
        detail: String,
    },
    /// Logged in, but this role or actor may not do this.
    #[error("forbidden: {detail}")]
    Forbidden {
        /// The relay's explanation.
        detail: String,
    },
    /// No such object, or not one the caller may see.
    #[error("not found: {detail}")]
    NotFound {
        /// What was looked up.
        detail: String,
    },
    /// Too many attempts: wait `retry_after` (the relay's `Retry-After`) and try again.
    #[error("rate limited: {detail}")]
    RateLimited {
        /// How long the relay asked to wait, if it said.
        retry_after: Option<Duration>,
        /// The relay's explanation.
        detail: String,
    },
    /// The contract refused the transaction.
    #[error("the ledger refused ({status}, {}): {detail}", code.as_str())]
    Ledger {
        /// The HTTP status.
        status: u16,
        /// The contract's code.
        code: ErrorCode,
        /// The contract's explanation.
        detail: String,
    },
    /// The relay refused the request for another reason (conflict, bad request, idempotency).
    #[error("refused ({status}, {code}): {detail}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The problem type's last path segment.
        code: String,
        /// The relay's explanation.
        detail: String,
    },
    /// The client found, before sending, that the operation cannot succeed.
    #[error("refused ({code}): {detail}")]
    Precondition {
        /// A stable code (`policy_not_active`, `not_covered`).
        code: &'static str,
        /// What was expected and found.
        detail: String,
    },
    /// The relay could not be reached or is failing: retry later.
    #[error("relay unavailable: {detail}")]
    Unavailable {
        /// The transport error or the relay's 5xx explanation.
        detail: String,
    },
    /// Data from the relay failed a check (does not parse, does not decrypt, wrong owner).
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// A protocol step refused its input (a record that does not open, a malformed key).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The wallet failed (signing, a poisoned lock).
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// A bug or an unexpected failure inside the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ClientError {
    /// The problem or contract code, if the relay sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Ledger { code, .. } => Some(code.as_str()),
            ClientError::Refused { code, .. } => Some(code),
            ClientError::Precondition { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(err: reqwest::Error) -> Self {
        if err.is_decode() {
            ClientError::Integrity(format!("the relay's answer does not parse: {err}"))
        } else {
            ClientError::Unavailable {
                detail: err.to_string(),
            }
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Problem {
    /// The problem type URI.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// What went wrong.
    #[serde(default)]
    pub detail: String,
}

/// Maps a relay error answer onto a [`ClientError`].
pub(crate) fn from_problem(
    status: StatusCode,
    problem: Option<Problem>,
    retry_after: Option<Duration>,
) -> ClientError {
    let problem = problem.unwrap_or_else(|| Problem {
        kind: String::new(),
        detail: format!("HTTP {status}"),
    });
    let code = problem.kind.rsplit('/').next().unwrap_or_default();
    let detail = problem.detail.clone();
    match status.as_u16() {
        401 => ClientError::Unauthenticated { detail },
        403 => ClientError::Forbidden { detail },
        404 => ClientError::NotFound { detail },
        429 => ClientError::RateLimited {
            retry_after,
            detail,
        },
        s if s >= 500 => ClientError::Unavailable { detail },
        s => match code.parse::<ErrorCode>() {
            Ok(code) => ClientError::Ledger {
                status: s,
                code,
                detail,
            },
            Err(_) => ClientError::Refused {
                status: s,
                code: code.to_owned(),
                detail,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(code: &str) -> Option<Problem> {
        Some(Problem {
            kind: format!("https://carechain.dev/problems/{code}"),
            detail: "d".into(),
        })
    }

    #[test]
    fn problems_map_to_what_the_caller_acts_on() {
        let s = |n| StatusCode::from_u16(n).unwrap();
        assert!(matches!(
            from_problem(s(409), problem("replayed_nonce"), None),
            ClientError::Ledger {
                code: ErrorCode::ReplayedNonce,
                status: 409,
                ..
            }
        ));
        assert!(matches!(
            from_problem(s(422), problem("idempotency_key_reused"), None),
            ClientError::Refused { status: 422, ref code, .. } if code == "idempotency_key_reused"
        ));
        let wait = Some(Duration::from_secs(7));
        assert!(matches!(
            from_problem(s(429), problem("rate_limited"), wait),
            ClientError::RateLimited { retry_after, .. } if retry_after == wait
        ));
        assert!(matches!(
            from_problem(s(401), None, None),
            ClientError::Unauthenticated { .. }
        ));
        assert!(matches!(
            from_problem(s(503), problem("unavailable"), None),
            ClientError::Unavailable { .. }
        ));
        assert!(matches!(
            from_problem(s(404), problem("not_found"), None),
            ClientError::NotFound { .. }
        ));
    }
}
