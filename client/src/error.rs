//! [`ClientError`]: what went wrong, grouped by what a caller (the phone, the
//! CLI, a test) does about it. RFC 9457 problems from the relay are decoded
//! here; a contract refusal keeps the contract's [`ErrorCode`] and stays
//! apart from the relay's own refusals, whose codes (`forbidden`,
//! `not_found`, `conflict`) share names with some contract codes.

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
    /// The relay itself refused: logged in, but this role or actor may not do this.
    #[error("forbidden ({code}): {detail}")]
    Forbidden {
        /// The relay's problem code (`forbidden`).
        code: String,
        /// The relay's explanation.
        detail: String,
    },
    /// The relay found no such object, or not one the caller may see.
    #[error("not found ({code}): {detail}")]
    NotFound {
        /// The relay's problem code (`not_found`).
        code: String,
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
    /// The contract refused the transaction (or the query), whatever the status.
    #[error("the ledger refused ({status}, {}): {detail}", code.as_str())]
    Ledger {
        /// The HTTP status.
        status: u16,
        /// The contract's code.
        code: ErrorCode,
        /// The contract's explanation.
        detail: String,
    },
    /// The relay itself refused the request for another reason (conflict, bad request, idempotency).
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
            ClientError::Refused { code, .. }
            | ClientError::Forbidden { code, .. }
            | ClientError::NotFound { code, .. } => Some(code),
            ClientError::Precondition { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of a refusal by the relay or the contract behind it.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Unauthenticated { .. } => Some(401),
            ClientError::Forbidden { .. } => Some(403),
            ClientError::NotFound { .. } => Some(404),
            ClientError::RateLimited { .. } => Some(429),
            ClientError::Ledger { status, .. } | ClientError::Refused { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The contract's code if the contract (not the relay) refused.
    pub fn ledger_code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Ledger { code, .. } => Some(*code),
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

/// The problem codes of the relay's own refusals (`ApiError::code` in
/// `api/src/error.rs`). A problem `type` of `{base}ledger/{code}` is the
/// contract's; a bare `{base}{code}` is the relay's when `code` is one of
/// these, and otherwise the contract's (as relays before the `ledger/`
/// segment sent every contract refusal).
const RELAY_CODES: [&str; 12] = [
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "idempotency_key_required",
    "idempotency_key_reused",
    "payload_too_large",
    "rate_limited",
    "unavailable",
    "internal",
];

/// Who refused: the contract's code, or `None` for the relay itself.
fn contract_code(kind: &str) -> (Option<ErrorCode>, &str) {
    let code = kind.rsplit('/').next().unwrap_or_default();
    let marked = kind
        .strip_suffix(code)
        .is_some_and(|base| base.ends_with("/ledger/"));
    let contract = if marked || !RELAY_CODES.contains(&code) {
        code.parse::<ErrorCode>().ok()
    } else {
        None
    };
    (contract, code)
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
    let (contract, code) = contract_code(&problem.kind);
    let detail = problem.detail.clone();
    match (status.as_u16(), contract) {
        (401, _) => ClientError::Unauthenticated { detail },
        (429, _) => ClientError::RateLimited {
            retry_after,
            detail,
        },
        (s, _) if s >= 500 => ClientError::Unavailable { detail },
        (s, Some(code)) => ClientError::Ledger {
            status: s,
            code,
            detail,
        },
        (403, None) => ClientError::Forbidden {
            code: code.to_owned(),
            detail,
        },
        (404, None) => ClientError::NotFound {
            code: code.to_owned(),
            detail,
        },
        (s, None) => ClientError::Refused {
            status: s,
            code: code.to_owned(),
            detail,
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

    fn s(n: u16) -> StatusCode {
        StatusCode::from_u16(n).unwrap()
    }

    #[test]
    fn a_contract_refusal_is_told_from_the_relays_own() {
        // The relay's own `forbidden`, `not_found`, `conflict`: its variants, code kept.
        assert!(matches!(
            from_problem(s(403), problem("forbidden"), None),
            ClientError::Forbidden { ref code, .. } if code == "forbidden"
        ));
        assert!(matches!(
            from_problem(s(404), problem("not_found"), None),
            ClientError::NotFound { ref code, .. } if code == "not_found"
        ));
        let relay = from_problem(s(409), problem("conflict"), None);
        assert!(
            matches!(relay, ClientError::Refused { status: 409, ref code, .. } if code == "conflict")
        );
        assert_eq!(relay.ledger_code(), None);
        // The same codes under `ledger/`: the contract's, whatever the status.
        for (status, code) in [
            (403, ErrorCode::Forbidden),
            (404, ErrorCode::NotFound),
            (409, ErrorCode::Conflict),
        ] {
            let err = from_problem(s(status), problem(&format!("ledger/{code}")), None);
            assert_eq!(err.ledger_code(), Some(code), "{err:?}");
            assert_eq!(err.status(), Some(status));
            assert_eq!(err.code(), Some(code.as_str()));
        }
        // A code only the contract has is the contract's even without `ledger/`.
        let err = from_problem(s(403), problem("wrong_role"), None);
        assert_eq!(err.ledger_code(), Some(ErrorCode::WrongRole), "{err:?}");
        assert_eq!(err.status(), Some(403));
    }

    #[test]
    fn problems_map_to_what_the_caller_acts_on() {
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
