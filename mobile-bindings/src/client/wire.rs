//! The relay's JSON bodies as the phone reads them: ledger objects as the
//! contract stores them (`carechain_chaincode::model`), declared here again
//! because the phone depends on core only. Unknown fields are ignored so a
//! newer relay does not break an older app.

use carechain_core::ids::B64;
use carechain_core::statement::{AccessAction, CoveredItem, RecordCategory, Scope};
use serde::Deserialize;

/// One page of a ledger list.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The next cursor.
    pub next: Option<String>,
}

/// An RFC 9457 problem document.
#[derive(Debug, Deserialize)]
pub(crate) struct Problem {
    /// The problem type URI.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// What went wrong.
    #[serde(default)]
    pub detail: String,
}

/// Tokens from a login.
#[derive(Deserialize)]
pub(crate) struct Tokens {
    /// The bearer token.
    pub access_token: String,
}

/// A login challenge.
#[derive(Debug, Deserialize)]
pub(crate) struct Challenge {
    /// The nonce to sign.
    pub challenge: String,
    /// The relay audience to sign for.
    pub audience: String,
}

/// An identity's published public keys (`GET /v1/identities/{actor}`).
#[derive(Debug, Deserialize)]
pub(crate) struct IdentityKeys {
    /// The HPKE public key data keys are wrapped to.
    pub hpke_key: B64,
}

/// What the patient granted.
#[derive(Debug, Deserialize)]
pub(crate) struct GrantTerms {
    /// Allowed actions.
    pub actions: Vec<AccessAction>,
    /// When it ends.
    pub expires_at: i64,
}

/// An access request.
#[derive(Debug, Deserialize)]
pub(crate) struct AccessRequestState {
    /// Its id.
    pub request: String,
    /// The doctor.
    pub doctor: String,
    /// Asked actions.
    pub actions: Vec<AccessAction>,
    /// Asked scope.
    pub scope: Scope,
    /// Purpose-of-use code.
    pub purpose: String,
    /// Asked duration.
    pub duration_secs: i64,
    /// When asked.
    pub requested_at: i64,
    /// `pending`, `granted`, `denied`, `revoked`.
    pub status: String,
    /// The grant, if any.
    pub grant: Option<GrantTerms>,
}

/// A record as stored (ciphertext).
#[derive(Debug, Deserialize)]
pub(crate) struct RecordState {
    /// Its id.
    pub record: String,
    /// Its patient.
    pub patient: String,
    /// Its doctor.
    pub doctor: String,
    /// Its category.
    pub category: RecordCategory,
    /// Payload nonce.
    pub nonce: B64,
    /// Encrypted FHIR payload.
    pub payload: B64,
    /// E(code).
    pub code: B64,
    /// E(category).
    pub code_category: B64,
    /// Ledger time of writing.
    pub written_at: i64,
}

/// A data key wrapped for the caller.
#[derive(Debug, Deserialize)]
pub(crate) struct WrappedKeyState {
    /// HPKE encapsulated key.
    pub enc: B64,
    /// HPKE ciphertext.
    pub ciphertext: B64,
}

/// `GET /v1/records/{id}`.
#[derive(Debug, Deserialize)]
pub(crate) struct RecordRead {
    /// The record.
    pub record: RecordState,
    /// Its key, wrapped for the patient.
    pub key: WrappedKeyState,
}

/// One access-log entry.
#[derive(Debug, Deserialize)]
pub(crate) struct AccessLogEntry {
    /// Reader.
    pub reader: String,
    /// Record.
    pub record: String,
    /// When.
    pub at: i64,
    /// Transaction.
    pub tx_id: String,
}

/// A product.
#[derive(Debug, Deserialize)]
pub(crate) struct ProductState {
    /// Its id.
    pub product: String,
    /// Its insurer.
    pub insurer: String,
    /// Name.
    pub name: String,
    /// Currency.
    pub currency: String,
    /// Premium.
    pub premium: u64,
    /// Term in days.
    pub term_days: u32,
    /// Covered items.
    pub items: Vec<CoveredItem>,
}

/// A policy.
#[derive(Debug, Deserialize)]
pub(crate) struct PolicyState {
    /// Its id.
    pub policy: String,
    /// Its product.
    pub product: String,
    /// Its insurer.
    pub insurer: String,
    /// `purchased` or `issued`.
    pub status: String,
    /// When bought.
    pub purchased_at: i64,
    /// Term start.
    pub starts_at: Option<i64>,
    /// Term end.
    pub ends_at: Option<i64>,
    /// E(M_i).
    pub items: Vec<B64>,
}

/// The contract's decision.
#[derive(Debug, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub(crate) enum Decision {
    /// Approved.
    Approved {
        /// Payout.
        payout: u64,
        /// Currency.
        currency: String,
    },
    /// Rejected.
    Rejected {
        /// Reason code.
        reason: String,
    },
}

/// A payment mark.
#[derive(Debug, Deserialize)]
pub(crate) struct Payment {
    /// Insurer's reference.
    pub reference: String,
}

/// A claim.
#[derive(Debug, Deserialize)]
pub(crate) struct ClaimState {
    /// Its id.
    pub claim: String,
    /// Policy.
    pub policy: String,
    /// Record.
    pub record: String,
    /// Item index.
    pub item: u32,
    /// Decision.
    pub decision: Decision,
    /// When decided.
    pub decided_at: i64,
    /// Payment.
    pub payment: Option<Payment>,
}
