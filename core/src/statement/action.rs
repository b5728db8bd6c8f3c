//! The typed payload of each ledger action.
//!
//! One variant per transaction the contract accepts. Cryptographic material
//! that belongs to other modules (HPKE keys, Paillier keys, ciphertexts and
//! proofs) travels as [`B64`] bytes and is parsed — and validated against the
//! right key — by whoever uses it, because validity depends on context the
//! payload does not carry (a ciphertext is only valid under a given modulus).

use serde::{Deserialize, Serialize};

use crate::identity::VerifyingKey;
use crate::ids::{ActorId, B64, ClaimId, PolicyId, ProductId, RecordId, RequestId};

/// The role an identity plays on the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Owns records and consent; registers itself.
    Patient,
    /// Requests access, writes and reads records; registered by an admin.
    Doctor,
    /// Publishes products, issues policies, pays claims; registered by an admin.
    Insurer,
    /// Registers and suspends doctors and insurers.
    Admin,
}

/// What a grant allows the grantee to do with records in scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccessAction {
    /// Read records (and receive their wrapped data keys).
    Read,
    /// Write new records for the patient.
    Write,
}

/// A record's category, the unit a patient can grant access to (after FHIR
/// Consent `provision.class` and HL7 sensitivity labels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum RecordCategory {
    /// Ordinary clinical records: conditions, encounters, observations.
    General,
    /// Laboratory results.
    Laboratory,
    /// Imaging reports.
    Imaging,
    /// Mental-health records (HL7 `PSY`).
    MentalHealth,
    /// Sexual and reproductive health (HL7 `SEX`).
    SexualHealth,
    /// Substance-use treatment (HL7 `SUD`, 42 CFR Part 2).
    SubstanceUse,
    /// Genetic information (HL7 `GDIS`).
    Genetic,
}

/// Which records a request or grant covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "categories", rename_all = "snake_case")]
pub enum Scope {
    /// Every record of the patient, present and future.
    All,
    /// Only records of these categories.
    Categories(Vec<RecordCategory>),
}

impl Scope {
    /// Whether a record of `category` is in scope.
    pub fn covers(&self, category: RecordCategory) -> bool {
        match self {
            Scope::All => true,
            Scope::Categories(list) => list.contains(&category),
        }
    }

    /// Whether every record this scope covers is also covered by `wider`.
    pub fn is_within(&self, wider: &Scope) -> bool {
        match (self, wider) {
            (_, Scope::All) => true,
            (Scope::All, Scope::Categories(_)) => false,
            (Scope::Categories(mine), Scope::Categories(theirs)) => {
                mine.iter().all(|c| theirs.contains(c))
            }
        }
    }
}

/// Purpose of use (HL7 v3 `PurposeOfUse` codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub enum PurposeOfUse {
    /// Treatment.
    #[serde(rename = "TREAT")]
    Treat,
    /// Emergency treatment.
    #[serde(rename = "ETREAT")]
    EmergencyTreat,
    /// Care coordination.
    #[serde(rename = "COC")]
    CareCoordination,
    /// Payment.
    #[serde(rename = "HPAYMT")]
    Payment,
    /// Clinical research.
    #[serde(rename = "HRESCH")]
    Research,
    /// Patient requested.
    #[serde(rename = "PATRQT")]
    PatientRequested,
}

/// A patient's Paillier public key and its key-correctness proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PaillierRegistration {
    /// The modulus n, big-endian.
    pub public_key: B64,
    /// The proof that gcd(n, φ(n)) = 1.
    pub key_proof: B64,
}

/// Registers an identity. Patients sign their own; admins sign doctors' and insurers'.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterIdentity {
    /// The role being registered.
    pub role: Role,
    /// The identity's signing key; its actor id is derived from it.
    pub signing_key: VerifyingKey,
    /// The identity's HPKE public key (SEC1), to which data keys are wrapped.
    pub hpke_key: B64,
    /// A display name (organisation or practitioner name; patients may leave it empty).
    pub display_name: String,
    /// Required for patients, absent for everyone else.
    pub paillier: Option<PaillierRegistration>,
}

/// Suspends an identity at once (admin only); its later statements are refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspendIdentity {
    /// The identity to suspend.
    pub actor: ActorId,
    /// Why, for the audit trail.
    pub reason: String,
}

/// A doctor's request for access to a patient's records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRequest {
    /// A fresh id chosen by the doctor.
    pub request: RequestId,
    /// The patient asked.
    pub patient: ActorId,
    /// What the doctor wants to do.
    pub actions: Vec<AccessAction>,
    /// Which records.
    pub scope: Scope,
    /// Why.
    pub purpose: PurposeOfUse,
    /// How long the doctor asks access for, in seconds.
    pub duration_secs: i64,
}

/// A data key re-wrapped for a grantee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordKey {
    /// The record whose data key this is.
    pub record: RecordId,
    /// HPKE encapsulated key.
    pub enc: B64,
    /// HPKE ciphertext of the data key.
    pub ciphertext: B64,
}

/// The patient's grant answering an access request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The request answered; the grant is known by the same id.
    pub request: RequestId,
    /// Granted actions, a subset of those requested.
    pub actions: Vec<AccessAction>,
    /// Granted scope, no wider than requested.
    pub scope: Scope,
    /// When access ends (Unix seconds); checked at every access.
    pub expires_at: i64,
    /// The data keys of the records in scope, wrapped for the grantee.
    pub keys: Vec<RecordKey>,
}

/// The patient's refusal of an access request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deny {
    /// The request refused.
    pub request: RequestId,
}

/// The patient's withdrawal of a grant, effective at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    /// The grant (named by its request id).
    pub request: RequestId,
}

/// A record written by a doctor holding a write grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteRecord {
    /// A fresh id chosen by the doctor; bound into the payload's AEAD.
    pub record: RecordId,
    /// Whose record it is.
    pub patient: ActorId,
    /// The record's category, which grants are scoped by.
    pub category: RecordCategory,
    /// AEAD nonce of the encrypted FHIR payload.
    pub nonce: B64,
    /// The encrypted FHIR payload.
    pub payload: B64,
    /// The data key wrapped for the patient and every current reader.
    pub keys: Vec<ReaderKey>,
    /// Paillier encryption, under the patient's key, of the full diagnosis code.
    pub code: B64,
    /// Paillier encryption, under the patient's key, of the code's category.
    pub code_category: B64,
    /// The encounter's date of service and billed amount: required from
    /// storage rules 3, ignored before (absent on writes made before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment: Option<super::Treatment>,
}

/// A data key wrapped for one reader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderKey {
    /// The reader.
    pub reader: ActorId,
    /// HPKE encapsulated key.
    pub enc: B64,
    /// HPKE ciphertext of the data key.
    pub ciphertext: B64,
}

/// A read of a record by someone other than its patient, logged on the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadRecord {
    /// The record read.
    pub record: RecordId,
}

/// One item an insurance product covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CoveredItem {
    /// An ICD-10-CM full code (`E11.9`) or 3-character category (`E11`).
    pub code: String,
    /// What an approved claim pays, in minor units of the product's currency.
    pub payout: u64,
}

/// An insurer's product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishProduct {
    /// A fresh id chosen by the insurer.
    pub product: ProductId,
    /// Product name shown to patients.
    pub name: String,
    /// ISO 4217 currency code of premium and payouts.
    pub currency: String,
    /// Premium in minor units.
    pub premium: u64,
    /// Policy term in days.
    pub term_days: u32,
    /// The covered items, in order; claims name an item by its index.
    pub items: Vec<CoveredItem>,
}

/// A patient's purchase of a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchasePolicy {
    /// A fresh id chosen by the patient; the issued policy has the same id.
    pub policy: PolicyId,
    /// The product bought.
    pub product: ProductId,
}

/// The insurer's acceptance of a purchase: the policy is issued.
///
/// Under the ledger's rules 2 it carries no ciphertexts (`items` empty, and
/// absent on the wire): the contract computes `E(M_i) = (1+n)^{M_i}` from the
/// product. Under rules ≤ 1 it carries the insurer's `E(M_i)`, as it always did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuePolicy {
    /// The purchase being issued.
    pub policy: PolicyId,
    /// Rules ≤ 1 only: `E(M_i)` under the patient's key for each covered
    /// item, in product order. Empty under rules 2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<B64>,
}

/// The insurer's decline of a purchase, with its reason (rules 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclinePolicy {
    /// The purchase being declined.
    pub policy: PolicyId,
    /// Why, for the patient (1 to 500 characters).
    pub reason: String,
}

/// A patient's claim under a policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileClaim {
    /// A fresh id chosen by the patient.
    pub claim: ClaimId,
    /// The policy claimed under.
    pub policy: PolicyId,
    /// The record that supports the claim.
    pub record: RecordId,
    /// Index of the covered item in the product.
    pub item: u32,
    /// ρ with ρ^n ≡ E(M_i)·E(M)⁻¹ (mod n²).
    pub proof: B64,
}

/// The insurer's mark that an approved claim was paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkPaid {
    /// The claim paid.
    pub claim: ClaimId,
    /// The insurer's payment reference.
    pub reference: String,
}

/// One ledger action; the `type` field of the statement's `act` claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Register an identity.
    RegisterIdentity(RegisterIdentity),
    /// Suspend an identity.
    SuspendIdentity(SuspendIdentity),
    /// Ask a patient for access.
    AccessRequest(AccessRequest),
    /// Grant access.
    Grant(Grant),
    /// Refuse access.
    Deny(Deny),
    /// Withdraw access.
    Revoke(Revoke),
    /// Write a record.
    WriteRecord(WriteRecord),
    /// Read a record (logged).
    ReadRecord(ReadRecord),
    /// Publish a product.
    PublishProduct(PublishProduct),
    /// Buy a product.
    PurchasePolicy(PurchasePolicy),
    /// Accept a purchase: issue the policy.
    IssuePolicy(IssuePolicy),
    /// Decline a purchase (rules 2).
    DeclinePolicy(DeclinePolicy),
    /// File a claim.
    FileClaim(FileClaim),
    /// Mark a claim paid.
    MarkPaid(MarkPaid),
}

impl Action {
    /// The action's wire name, as in the `type` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::RegisterIdentity(_) => "register_identity",
            Action::SuspendIdentity(_) => "suspend_identity",
            Action::AccessRequest(_) => "access_request",
            Action::Grant(_) => "grant",
            Action::Deny(_) => "deny",
            Action::Revoke(_) => "revoke",
            Action::WriteRecord(_) => "write_record",
            Action::ReadRecord(_) => "read_record",
            Action::PublishProduct(_) => "publish_product",
            Action::PurchasePolicy(_) => "purchase_policy",
            Action::IssuePolicy(_) => "issue_policy",
            Action::DeclinePolicy(_) => "decline_policy",
            Action::FileClaim(_) => "file_claim",
            Action::MarkPaid(_) => "mark_paid",
        }
    }
}
