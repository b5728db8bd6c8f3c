//! The objects the contract stores in world state and answers queries with.
//!
//! Values are JSON in exactly these shapes: the contract writes them, the
//! relay passes them through, the client and the phone read them. Timestamps
//! are Unix seconds from the transaction timestamp. (The storage keys are the
//! contract's own business: `carechain_chaincode::model::keys`.)

use serde::{Deserialize, Serialize};

use crate::identity::VerifyingKey;
use crate::ids::{ActorId, B64, ClaimId, PolicyId, ProductId, RecordId, RequestId};
use crate::statement::{
    AccessAction, CoveredItem, DEFAULT_MAX_SERVICE_AGE_SECS, PaillierRegistration, PurposeOfUse,
    RecordCategory, Role, Scope, Treatment,
};

/// Ledger-wide settings fixed at `init`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct LedgerConfig {
    /// The `aud` every statement must carry.
    pub audience: String,
    /// How far a statement's `iat` may lie after the transaction time.
    pub max_skew_secs: i64,
    /// The longest statement lifetime accepted.
    pub max_lifetime_secs: i64,
    /// The version of the contract's storage rules this ledger was started
    /// under (absent: 0, the original rules); see the contract's `consent`
    /// module for what each adds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rules: u32,
    /// The largest Paillier modulus a patient may register, in bits (absent:
    /// no cap below the library's own, as on ledgers started before the cap
    /// existed, so that their chains replay identically).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_paillier_bits: Option<u32>,
    /// Rules ≥ 3: how long before a record write its date of service may
    /// lie, in seconds (absent: [`DEFAULT_MAX_SERVICE_AGE_SECS`]; ledgers
    /// before rules 3 never look at it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_service_age_secs: Option<i64>,
}

impl LedgerConfig {
    /// How long before a write its date of service may lie (rules ≥ 3).
    pub fn service_window_secs(&self) -> i64 {
        self.max_service_age_secs
            .unwrap_or(DEFAULT_MAX_SERVICE_AGE_SECS)
    }
}

fn is_zero(rules: &u32) -> bool {
    *rules == 0
}

/// A registered identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Identity {
    /// Its id.
    pub actor: ActorId,
    /// Its role.
    pub role: Role,
    /// Its signing key (SEC1, base64url).
    #[serde(deserialize_with = "crate::ledger::keycache::deserialize")]
    #[cfg_attr(feature = "utoipa", schema(value_type = String))]
    pub signing_key: VerifyingKey,
    /// Its HPKE public key.
    pub hpke_key: B64,
    /// Display name.
    pub display_name: String,
    /// Patients' Paillier key and proof.
    pub paillier: Option<PaillierRegistration>,
    /// False once suspended.
    pub active: bool,
    /// Who registered it (itself for patients and the first admin).
    pub registered_by: ActorId,
    /// When.
    pub registered_at: i64,
    /// Why it was suspended, if it was.
    pub suspension: Option<String>,
}

/// The part of a stored [`Identity`] that checking a signer needs, decoded
/// from the same JSON without the HPKE and Paillier keys (a patient's
/// identity is ~5 KB, nearly all of it the Paillier key and its proof).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Signer {
    /// Its id.
    pub actor: ActorId,
    /// Its role.
    pub role: Role,
    /// Its signing key (SEC1, base64url).
    #[serde(deserialize_with = "crate::ledger::keycache::deserialize")]
    pub signing_key: VerifyingKey,
    /// False once suspended.
    pub active: bool,
}

/// The state of an access request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for the patient.
    Pending,
    /// Granted (possibly expired: expiry is checked at each access).
    Granted,
    /// Refused by the patient.
    Denied,
    /// Granted, then withdrawn.
    Revoked,
}

/// What the patient granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct GrantTerms {
    /// Allowed actions.
    pub actions: Vec<AccessAction>,
    /// Records covered.
    pub scope: Scope,
    /// End of access.
    pub expires_at: i64,
    /// When granted.
    pub granted_at: i64,
}

/// A doctor's access request and, once answered, the patient's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct AccessRequestState {
    /// Its id (also the grant's id).
    pub request: RequestId,
    /// The requesting doctor.
    pub doctor: ActorId,
    /// The patient asked.
    pub patient: ActorId,
    /// Requested actions.
    pub actions: Vec<AccessAction>,
    /// Requested scope.
    pub scope: Scope,
    /// Purpose of use.
    pub purpose: PurposeOfUse,
    /// Requested duration.
    pub duration_secs: i64,
    /// When requested.
    pub requested_at: i64,
    /// Current status.
    pub status: RequestStatus,
    /// The grant, once granted.
    pub grant: Option<GrantTerms>,
    /// When denied or revoked.
    pub closed_at: Option<i64>,
}

impl AccessRequestState {
    /// Whether this grant allows `action` on a record of `category` at `now`.
    pub fn allows(&self, action: AccessAction, category: RecordCategory, now: i64) -> bool {
        match (&self.status, &self.grant) {
            (RequestStatus::Granted, Some(grant)) => {
                now < grant.expires_at
                    && grant.actions.contains(&action)
                    && grant.scope.covers(category)
            }
            _ => false,
        }
    }
}

/// A stored record: ciphertext and Paillier ciphertexts, never plaintext.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct RecordState {
    /// Its id.
    pub record: RecordId,
    /// Whose record.
    pub patient: ActorId,
    /// The writing doctor.
    pub doctor: ActorId,
    /// Its category.
    pub category: RecordCategory,
    /// AEAD nonce.
    pub nonce: B64,
    /// Encrypted FHIR payload.
    pub payload: B64,
    /// E(code) under the patient's key.
    pub code: B64,
    /// E(category of code) under the patient's key.
    pub code_category: B64,
    /// When written (the write transaction's time).
    pub written_at: i64,
    /// The doctor's signed statement, so anyone can re-check the signature.
    pub statement: String,
    /// Rules ≥ 3: the date of service and billed amount the doctor signed
    /// (absent on records written under older rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment: Option<Treatment>,
}

/// A data key wrapped for one reader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct WrappedKeyState {
    /// HPKE encapsulated key.
    pub enc: B64,
    /// HPKE ciphertext.
    pub ciphertext: B64,
}

/// One read of a record by someone other than its patient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct AccessLogEntry {
    /// Who read.
    pub reader: ActorId,
    /// Which record.
    pub record: RecordId,
    /// When.
    pub at: i64,
    /// The logging transaction.
    pub tx_id: String,
}

/// A published product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ProductState {
    /// Its id.
    pub product: ProductId,
    /// The insurer.
    pub insurer: ActorId,
    /// Name.
    pub name: String,
    /// Currency.
    pub currency: String,
    /// Premium in minor units.
    pub premium: u64,
    /// Term in days.
    pub term_days: u32,
    /// Covered items.
    pub items: Vec<CoveredItem>,
    /// When published.
    pub published_at: i64,
}

/// The state of a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PolicyStatus {
    /// Bought, waiting for the insurer to issue it.
    Purchased,
    /// Issued; in force between `starts_at` and `ends_at`.
    Issued,
    /// Declined by the insurer (rules 2); never in force.
    Declined,
}

/// The insurer's decline of a purchase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct PolicyDecline {
    /// The insurer's reason, for the patient.
    pub reason: String,
    /// When declined.
    pub declined_at: i64,
}

/// A policy: a patient's purchase and the insurer's issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct PolicyState {
    /// Its id.
    pub policy: PolicyId,
    /// The product.
    pub product: ProductId,
    /// The insured patient.
    pub patient: ActorId,
    /// The insurer.
    pub insurer: ActorId,
    /// Status.
    pub status: PolicyStatus,
    /// When bought.
    pub purchased_at: i64,
    /// Start of the term (at issue).
    pub starts_at: Option<i64>,
    /// End of the term.
    pub ends_at: Option<i64>,
    /// Rules ≤ 1: the insurer's E(M_i) for each covered item. Empty under
    /// rules 2, where the contract uses `(1+n)^{M_i}` from the product.
    pub items: Vec<B64>,
    /// The insurer's decline, if it declined (rules 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined: Option<PolicyDecline>,
}

/// Why a claim was rejected: a closed set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    /// ρ^n ≢ E(M_i)·E(M)⁻¹ (mod n²): the diagnosis is not the covered item.
    ProofFailed,
    /// The record belongs to another patient.
    RecordNotPatients,
    /// The record was written outside the policy term.
    RecordOutsideTerm,
    /// The record was already approved under this policy.
    AlreadyClaimed,
    /// The policy is not issued, or its term is over.
    PolicyNotActive,
    /// The item index is not one of the product's items.
    UnknownItem,
    /// Rules ≥ 3: the treatment's billed amount has been paid in full, under
    /// this or other policies.
    TreatmentPaidInFull,
    /// Rules ≥ 3: the product pays in another currency than the treatment was billed in.
    CurrencyMismatch,
}

/// The contract's decision on a claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Approved with the item's payout (rules ≥ 3: at most what remains of
    /// the treatment's billed amount).
    Approved {
        /// Payout in minor units.
        payout: u64,
        /// Currency.
        currency: String,
    },
    /// Rejected with a reason.
    Rejected {
        /// Why.
        reason: RejectionReason,
    },
}

/// Payment of an approved claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Payment {
    /// Insurer's reference.
    pub reference: String,
    /// When marked paid.
    pub paid_at: i64,
}

/// A claim and its decision: what the insurer may see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ClaimState {
    /// Its id.
    pub claim: ClaimId,
    /// The policy.
    pub policy: PolicyId,
    /// The supporting record (an opaque id to the insurer).
    pub record: RecordId,
    /// The covered item's index.
    pub item: u32,
    /// The claimant.
    pub patient: ActorId,
    /// The insurer.
    pub insurer: ActorId,
    /// The decision.
    pub decision: Decision,
    /// When decided.
    pub decided_at: i64,
    /// Payment, once marked paid.
    pub payment: Option<Payment>,
}
