//! The contract's refusal codes: stable machine names that the relay uses as
//! the RFC 9457 problem `type` and that clients act on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $status:literal;)*) => {
        /// Why the contract refused a transaction or a query.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code's stable name (`replayed_nonce`, …).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }

            /// The HTTP status the relay answers it with.
            pub fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }
        }

        impl FromStr for ErrorCode {
            type Err = UnknownErrorCode;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($name => Ok(ErrorCode::$variant),)*
                    other => Err(UnknownErrorCode(other.chars().take(64).collect())),
                }
            }
        }
    };
}

codes! {
    /// The ledger has not been initialised with its first admin.
    NotInitialised = "not_initialised", 409;
    /// `init` was called on an initialised ledger.
    AlreadyInitialised = "already_initialised", 409;
    /// The function or query name is not one the contract knows.
    UnknownFunction = "unknown_function", 400;
    /// The arguments do not have the expected count or form.
    BadArguments = "bad_arguments", 400;
    /// The statement's signature does not verify.
    SignatureInvalid = "signature_invalid", 403;
    /// The statement has expired.
    StatementExpired = "statement_expired", 403;
    /// The statement is for another ledger.
    WrongAudience = "wrong_audience", 403;
    /// The statement is malformed or outside its time window.
    StatementInvalid = "statement_invalid", 403;
    /// The signer is not registered.
    UnknownSigner = "unknown_signer", 403;
    /// The signer is suspended.
    SignerSuspended = "signer_suspended", 403;
    /// The signer's role may not perform the action.
    WrongRole = "wrong_role", 403;
    /// The statement's nonce was used before.
    ReplayedNonce = "replayed_nonce", 403;
    /// A referenced object does not exist.
    NotFound = "not_found", 404;
    /// An object with this id already exists.
    AlreadyExists = "already_exists", 409;
    /// The signer is not a party to the object.
    Forbidden = "forbidden", 403;
    /// The object is not in a state that allows the action.
    Conflict = "conflict", 409;
    /// The payload is malformed or out of range.
    InvalidPayload = "invalid_payload", 400;
    /// A record write (rules ≥ 3) carries no treatment facts.
    TreatmentMissing = "treatment_missing", 400;
    /// A record's date of service is after the write.
    ServiceDateInFuture = "service_date_in_future", 400;
    /// A record's date of service is further before the write than the ledger allows.
    ServiceDateTooOld = "service_date_too_old", 400;
    /// A record's billed amount is zero.
    BilledAmountInvalid = "billed_amount_invalid", 400;
    /// A currency is not an ISO 4217 code.
    CurrencyInvalid = "currency_invalid", 400;
    /// The patient already holds an active policy of the product bought.
    PolicyAlreadyActive = "policy_already_active", 409;
    /// The state underneath failed.
    LedgerUnavailable = "ledger_unavailable", 500;
    /// A stored value could not be decoded.
    CorruptState = "corrupt_state", 500;
}

/// A code that is not one of [`ErrorCode`]'s.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code {0:?}")]
pub struct UnknownErrorCode(pub String);

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_name_and_serde() {
        for &code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!((400..600).contains(&code.status()));
        }
        assert_eq!(
            "no_such_code".parse::<ErrorCode>(),
            Err(UnknownErrorCode("no_such_code".into()))
        );
    }
}
