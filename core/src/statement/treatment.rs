//! The treatment facts a doctor signs with a record (storage rules 3): when
//! the service was given and what was billed for it. The contract checks
//! them with [`Treatment::check`] at the write, claims use the date of
//! service for the policy term, and the billed amount bounds what all the
//! patient's insurers together pay for the treatment.

use serde::{Deserialize, Serialize};

/// One day, in seconds.
const DAY_SECS: i64 = 86_400;
/// How long before a write its date of service may lie, unless the ledger says otherwise.
pub const DEFAULT_MAX_SERVICE_AGE_SECS: i64 = 365 * DAY_SECS;
/// The longest window a ledger may allow between service and write: ten years.
pub const MAX_SERVICE_AGE_SECS: i64 = 3660 * DAY_SECS;

/// The encounter a record documents, signed by the doctor with the rest of the write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Treatment {
    /// When the service was given (Unix seconds).
    pub date_of_service: i64,
    /// What was billed for the encounter, in minor units of `currency`.
    pub billed: u64,
    /// The billed amount's ISO 4217 currency code (`EUR`).
    pub currency: String,
}

/// Why treatment facts were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TreatmentError {
    /// The date of service is after the write.
    #[error("expected a date of service no later than {latest} (the write), found {found}")]
    ServiceInFuture {
        /// The date of service.
        found: i64,
        /// The latest accepted: the write's time plus the allowed clock skew.
        latest: i64,
    },
    /// The date of service is further before the write than the ledger allows.
    #[error(
        "expected a date of service no earlier than {earliest} ({window_secs} s before the write), found {found}"
    )]
    ServiceTooOld {
        /// The date of service.
        found: i64,
        /// The earliest accepted.
        earliest: i64,
        /// The ledger's window.
        window_secs: i64,
    },
    /// The billed amount is zero.
    #[error("expected a billed amount above 0 minor units, found 0")]
    NothingBilled,
    /// The currency is not three uppercase letters.
    #[error("expected an ISO 4217 currency code like EUR, found {found:?}")]
    BadCurrency {
        /// The currency given (truncated).
        found: String,
    },
}

/// Whether `code` has the shape of an ISO 4217 code: three uppercase ASCII letters.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

impl Treatment {
    /// Checks the facts of a write at `now`: service not after `now + skew`
    /// (the clock skew a statement's `iat` is allowed), not more than
    /// `window_secs` before `now`, a positive amount and a currency code.
    pub fn check(&self, now: i64, skew_secs: i64, window_secs: i64) -> Result<(), TreatmentError> {
        if !is_currency_code(&self.currency) {
            return Err(TreatmentError::BadCurrency {
                found: self.currency.chars().take(16).collect(),
            });
        }
        if self.billed == 0 {
            return Err(TreatmentError::NothingBilled);
        }
        let latest = now.saturating_add(skew_secs);
        if self.date_of_service > latest {
            return Err(TreatmentError::ServiceInFuture {
                found: self.date_of_service,
                latest,
            });
        }
        let earliest = now.saturating_sub(window_secs);
        if self.date_of_service < earliest {
            return Err(TreatmentError::ServiceTooOld {
                found: self.date_of_service,
                earliest,
                window_secs,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn facts(date_of_service: i64, billed: u64, currency: &str) -> Treatment {
        Treatment {
            date_of_service,
            billed,
            currency: currency.into(),
        }
    }

    #[test]
    fn facts_within_the_window_pass_and_each_bad_fact_is_named() {
        let window = DEFAULT_MAX_SERVICE_AGE_SECS;
        for at in [NOW, NOW + 300, NOW - window] {
            assert_eq!(facts(at, 1, "EUR").check(NOW, 300, window), Ok(()));
        }
        assert_eq!(
            facts(NOW + 301, 1, "EUR").check(NOW, 300, window),
            Err(TreatmentError::ServiceInFuture {
                found: NOW + 301,
                latest: NOW + 300
            })
        );
        assert_eq!(
            facts(NOW - window - 1, 1, "EUR").check(NOW, 300, window),
            Err(TreatmentError::ServiceTooOld {
                found: NOW - window - 1,
                earliest: NOW - window,
                window_secs: window
            })
        );
        assert_eq!(
            facts(NOW, 0, "EUR").check(NOW, 300, window),
            Err(TreatmentError::NothingBilled)
        );
        for bad in ["eur", "EU", "EURO", "€UR", ""] {
            let err = facts(NOW, 1, bad).check(NOW, 300, window).unwrap_err();
            assert!(matches!(err, TreatmentError::BadCurrency { .. }), "{bad}");
        }
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let err = facts(i64::MIN, 1, "USD").check(i64::MAX, i64::MAX, i64::MAX);
        assert!(matches!(
            err,
            Err(TreatmentError::ServiceTooOld { earliest: 0, .. })
        ));
        assert!(facts(i64::MAX, 1, "USD").check(i64::MAX, 300, 1).is_ok());
    }
}
