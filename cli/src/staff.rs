//! What the subcommands and the demo share around [`carechain_client`]:
//! naming the request a failed call made (so a refusal prints as the relay
//! worded it), and parsing the arguments that become ledger values.

use carechain_client::ClientError;
use carechain_client::wire::AccountStatus;
use carechain_core::icd10::CoveredCode;
use carechain_core::statement::RecordCategory;

/// A call to the relay that failed, and what it asked (method and path).
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(what, source))]
pub struct RelayError {
    /// What was asked (`POST /v1/auth/login`).
    pub what: String,
    /// Why it failed.
    pub source: ClientError,
}

/// A refusal by the relay (or the contract behind it).
pub struct Refusal<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The status's reason phrase, as the relay titles its problems.
    pub title: &'static str,
    /// The problem's code, when the client kept it.
    pub code: Option<&'a str>,
    /// The problem's detail.
    pub detail: &'a str,
}

/// `err` as a refusal by the relay, or `None` if the relay did not answer one.
pub fn refusal(err: &ClientError) -> Option<Refusal<'_>> {
    let (status, detail) = match err {
        ClientError::Unauthenticated { detail }
        | ClientError::Forbidden { detail, .. }
        | ClientError::NotFound { detail, .. }
        | ClientError::RateLimited { detail, .. }
        | ClientError::Ledger { detail, .. }
        | ClientError::Refused { detail, .. } => (err.status()?, detail),
        _ => return None,
    };
    let title = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    Some(Refusal {
        status,
        title,
        code: err.code(),
        detail,
    })
}

impl std::fmt::Display for Refusal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if !self.detail.is_empty() {
            write!(f, " — {}", self.detail)?;
        }
        match self.code {
            Some(code) => write!(f, " [{code}]"),
            None => Ok(()),
        }
    }
}

fn describe(what: &str, err: &ClientError) -> String {
    match (refusal(err), err) {
        (Some(r), _) => format!("the relay refused {what}: {r}"),
        (None, ClientError::Unavailable { detail }) => {
            format!("cannot reach the relay ({what}): {detail}")
        }
        (None, other) => format!("{what}: {other}"),
    }
}

/// Names the request of a client call's error.
pub trait At<T> {
    /// `self`, its error naming `what` was asked.
    fn at(self, what: impl Into<String>) -> Result<T, RelayError>;
}

impl<T> At<T> for Result<T, ClientError> {
    fn at(self, what: impl Into<String>) -> Result<T, RelayError> {
        self.map_err(|source| RelayError {
            what: what.into(),
            source,
        })
    }
}

/// Parses an id of type `T` named `what`.
pub fn parse_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| format!("{what}: {e}: {text:?}"))
}

/// A record category from its wire name (`general`, `laboratory`, …).
pub fn category(name: &str) -> Result<RecordCategory, String> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|_| {
        format!(
            "category: expected general, laboratory, imaging, mental-health, sexual-health or substance-use, found {name:?}"
        )
    })
}

/// An account status from its wire name (`pending`, `active`, `suspended`).
pub fn account_status(name: &str) -> Result<AccountStatus, String> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| format!("expected pending, active or suspended, found {name:?}"))
}

/// Parses `CODE=PAYOUT` (`E11=50000`), checking the code.
pub fn parse_item(text: &str) -> Result<(String, u64), String> {
    let (code, payout) = text
        .split_once('=')
        .ok_or_else(|| format!("expected CODE=PAYOUT (E11.9=50000), found {text:?}"))?;
    code.parse::<CoveredCode>()
        .map_err(|e| format!("{code:?}: {e}"))?;
    let payout = payout
        .parse::<u64>()
        .map_err(|_| format!("payout: expected minor units (an integer), found {payout:?}"))?;
    Ok((code.to_owned(), payout))
}
