//! Why the contract refuses a transaction.
//!
//! Each variant has a stable machine code (used by the relay as the problem
//! `type`) and an HTTP-like status. A refusal commits nothing. A claim that
//! is decided REJECTED is *not* a refusal: it is a committed decision.

use carechain_core::ids::{ActorId, PolicyId, ProductId};
use carechain_core::statement::{Role, StatementError, TreatmentError};

use crate::stub::{ChaincodeError, StubError};

/// A refusal by the contract.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The ledger has not been initialised with its first admin.
    #[error("the ledger is not initialised: submit `init` with the first admin first")]
    NotInitialised,
    /// `init` was called on an initialised ledger.
    #[error("the ledger is already initialised")]
    AlreadyInitialised,
    /// The function name is not one the contract knows.
    #[error("unknown function {0:?}")]
    UnknownFunction(String),
    /// The arguments do not have the expected count or form.
    #[error("bad arguments: {0}")]
    BadArguments(String),
    /// The statement failed verification (signature, algorithm, audience, time window…).
    #[error("statement refused: {0}")]
    Statement(#[from] StatementError),
    /// The signer is not registered.
    #[error("signer {0} is not registered")]
    UnknownSigner(ActorId),
    /// The signer is registered but suspended.
    #[error("signer {0} is suspended")]
    SignerSuspended(ActorId),
    /// The signer's role may not perform this action.
    #[error("a {found:?} may not {action}; expected a {expected:?}")]
    WrongRole {
        /// The action attempted.
        action: &'static str,
        /// The role required.
        expected: Role,
        /// The signer's role.
        found: Role,
    },
    /// The statement's nonce was used before by the same signer.
    #[error("nonce {jti:?} of {iss} was already used")]
    ReplayedNonce {
        /// The signer.
        iss: ActorId,
        /// The nonce.
        jti: String,
    },
    /// A referenced object does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What kind of object.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// An object with this id already exists.
    #[error("{kind} {id} already exists")]
    AlreadyExists {
        /// What kind of object.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The signer is not a party to the object.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The object is not in a state that allows the action.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The payload is malformed or out of range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What was expected and what was found.
        reason: String,
    },
    /// A record write under rules ≥ 3 carries no treatment facts.
    #[error(
        "expected the treatment facts (date of service, billed amount and currency) with the record, found none"
    )]
    TreatmentMissing,
    /// A record write's treatment facts are out of range.
    #[error("invalid treatment: {0}")]
    Treatment(#[from] TreatmentError),
    /// Rules ≥ 3: the patient already holds an active policy of the product.
    #[error(
        "expected no active policy of product {product} when buying it, found policy {policy} (purchased or issued and in term)"
    )]
    PolicyAlreadyActive {
        /// The product bought.
        product: ProductId,
        /// The patient's active policy of it.
        policy: PolicyId,
    },
    /// The state underneath failed.
    #[error(transparent)]
    Stub(#[from] StubError),
    /// A stored value could not be decoded: the state is corrupt.
    #[error("stored value at {key} is corrupt: {reason}")]
    CorruptState {
        /// The key.
        key: String,
        /// The decoding error.
        reason: String,
    },
}

impl ContractError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ContractError::NotInitialised => "not_initialised",
            ContractError::AlreadyInitialised => "already_initialised",
            ContractError::UnknownFunction(_) => "unknown_function",
            ContractError::BadArguments(_) => "bad_arguments",
            // A high-S twin is a valid signature refused under the strict
            // rules: to a client it is as unusable as a wrong one.
            ContractError::Statement(StatementError::BadSignature | StatementError::HighS) => {
                "signature_invalid"
            }
            ContractError::Statement(StatementError::Expired { .. }) => "statement_expired",
            ContractError::Statement(StatementError::WrongAudience { .. }) => "wrong_audience",
            ContractError::Statement(_) => "statement_invalid",
            ContractError::UnknownSigner(_) => "unknown_signer",
            ContractError::SignerSuspended(_) => "signer_suspended",
            ContractError::WrongRole { .. } => "wrong_role",
            ContractError::ReplayedNonce { .. } => "replayed_nonce",
            ContractError::NotFound { .. } => "not_found",
            ContractError::AlreadyExists { .. } => "already_exists",
            ContractError::Forbidden(_) => "forbidden",
            ContractError::Conflict(_) => "conflict",
            ContractError::Invalid { .. } => "invalid_payload",
            ContractError::TreatmentMissing => "treatment_missing",
            ContractError::PolicyAlreadyActive { .. } => "policy_already_active",
            ContractError::Treatment(TreatmentError::ServiceInFuture { .. }) => {
                "service_date_in_future"
            }
            ContractError::Treatment(TreatmentError::ServiceTooOld { .. }) => {
                "service_date_too_old"
            }
            ContractError::Treatment(TreatmentError::NothingBilled) => "billed_amount_invalid",
            ContractError::Treatment(TreatmentError::BadCurrency { .. }) => "currency_invalid",
            ContractError::Stub(_) => "ledger_unavailable",
            ContractError::CorruptState { .. } => "corrupt_state",
        }
    }

    /// The HTTP-like status.
    pub fn status(&self) -> u16 {
        match self {
            ContractError::NotInitialised | ContractError::AlreadyInitialised => 409,
            ContractError::UnknownFunction(_)
            | ContractError::BadArguments(_)
            | ContractError::Invalid { .. }
            | ContractError::TreatmentMissing
            | ContractError::Treatment(_) => 400,
            ContractError::Statement(_)
            | ContractError::UnknownSigner(_)
            | ContractError::SignerSuspended(_)
            | ContractError::WrongRole { .. }
            | ContractError::ReplayedNonce { .. }
            | ContractError::Forbidden(_) => 403,
            ContractError::NotFound { .. } => 404,
            ContractError::AlreadyExists { .. }
            | ContractError::Conflict(_)
            | ContractError::PolicyAlreadyActive { .. } => 409,
            ContractError::Stub(_) | ContractError::CorruptState { .. } => 500,
        }
    }

    /// Shorthand for [`ContractError::Invalid`].
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        ContractError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`ContractError::NotFound`].
    pub(crate) fn not_found(kind: &'static str, id: impl ToString) -> Self {
        ContractError::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    /// Shorthand for [`ContractError::AlreadyExists`].
    pub(crate) fn exists(kind: &'static str, id: impl ToString) -> Self {
        ContractError::AlreadyExists {
            kind,
            id: id.to_string(),
        }
    }
}

impl From<ContractError> for ChaincodeError {
    fn from(err: ContractError) -> Self {
        ChaincodeError {
            status: err.status(),
            code: err.code().to_owned(),
            message: err.to_string(),
        }
    }
}
