//! The records and enums the app sees. They mirror the ledger objects the
//! relay returns, with ids as strings and times as Unix seconds, plus the
//! results of the checks the phone makes (record codes, policy items).

use carechain_client::patient::{self, CheckedPolicy, OpenedRecord};
use carechain_core::ledger;
use carechain_core::protocol::check;
use carechain_core::statement;

/// What a grant allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum AccessKind {
    /// Read records.
    Read,
    /// Write new records.
    Write,
}

impl From<AccessKind> for statement::AccessAction {
    fn from(kind: AccessKind) -> Self {
        match kind {
            AccessKind::Read => statement::AccessAction::Read,
            AccessKind::Write => statement::AccessAction::Write,
        }
    }
}

impl From<statement::AccessAction> for AccessKind {
    fn from(action: statement::AccessAction) -> Self {
        match action {
            statement::AccessAction::Read => AccessKind::Read,
            statement::AccessAction::Write => AccessKind::Write,
        }
    }
}

/// A record category, the unit access is granted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum RecordCategory {
    /// Conditions, encounters, observations.
    General,
    /// Laboratory results.
    Laboratory,
    /// Imaging reports.
    Imaging,
    /// Mental health.
    MentalHealth,
    /// Sexual and reproductive health.
    SexualHealth,
    /// Substance-use treatment.
    SubstanceUse,
    /// Genetic information.
    Genetic,
}

impl From<RecordCategory> for statement::RecordCategory {
    fn from(c: RecordCategory) -> Self {
        use statement::RecordCategory as C;
        match c {
            RecordCategory::General => C::General,
            RecordCategory::Laboratory => C::Laboratory,
            RecordCategory::Imaging => C::Imaging,
            RecordCategory::MentalHealth => C::MentalHealth,
            RecordCategory::SexualHealth => C::SexualHealth,
            RecordCategory::SubstanceUse => C::SubstanceUse,
            RecordCategory::Genetic => C::Genetic,
        }
    }
}

impl From<statement::RecordCategory> for RecordCategory {
    fn from(c: statement::RecordCategory) -> Self {
        use statement::RecordCategory as C;
        match c {
            C::General => RecordCategory::General,
            C::Laboratory => RecordCategory::Laboratory,
            C::Imaging => RecordCategory::Imaging,
            C::MentalHealth => RecordCategory::MentalHealth,
            C::SexualHealth => RecordCategory::SexualHealth,
            C::SubstanceUse => RecordCategory::SubstanceUse,
            C::Genetic => RecordCategory::Genetic,
        }
    }
}

/// Converts a core scope into the FFI form: `None` means every category.
pub(crate) fn categories_of(scope: &statement::Scope) -> Option<Vec<RecordCategory>> {
    match scope {
        statement::Scope::All => None,
        statement::Scope::Categories(list) => Some(list.iter().map(|&c| c.into()).collect()),
    }
}

/// Where an access request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum RequestStatus {
    /// Waiting for the patient.
    Pending,
    /// Granted (check `expires_at`).
    Granted,
    /// Refused.
    Denied,
    /// Granted, then withdrawn.
    Revoked,
}

/// A doctor's access request, and the grant if there is one.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct AccessRequest {
    /// The request id (also the grant's).
    pub request_id: String,
    /// The doctor's actor id.
    pub doctor_id: String,
    /// What the doctor asked to do.
    pub actions: Vec<AccessKind>,
    /// The categories asked for; `None` means every record.
    pub categories: Option<Vec<RecordCategory>>,
    /// The HL7 purpose-of-use code (`TREAT`, `ETREAT`, …).
    pub purpose: String,
    /// How long the doctor asked for, in seconds.
    pub duration_secs: i64,
    /// When asked (Unix seconds).
    pub requested_at: i64,
    /// Current status.
    pub status: RequestStatus,
    /// What was granted, if granted.
    pub granted_actions: Option<Vec<AccessKind>>,
    /// When the grant ends (Unix seconds), if granted.
    pub expires_at: Option<i64>,
}

/// The phone's check that a record's encrypted code matches its payload.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CodeCheck {
    /// `E(code)` decrypts to the ICD-10-CM code in the FHIR payload.
    Verified {
        /// The code.
        code: String,
    },
    /// They differ (or one is missing): show the patient a warning.
    Mismatch {
        /// The code found in the payload, if any.
        in_payload: Option<String>,
        /// The code `E(code)` decrypts to, if it is a valid code.
        encrypted: Option<String>,
    },
}

/// One of the patient's records, decrypted on the phone.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct MedicalRecord {
    /// The record id.
    pub record_id: String,
    /// The writing doctor's actor id.
    pub doctor_id: String,
    /// Its category.
    pub category: RecordCategory,
    /// When written (Unix seconds, ledger time).
    pub written_at: i64,
    /// The decrypted FHIR R4 payload (JSON text).
    pub fhir_json: String,
    /// Whether the encrypted diagnosis code matches the payload.
    pub code_check: CodeCheck,
}

/// One read of a record by someone else.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AccessLogEntry {
    /// Who read it.
    pub reader_id: String,
    /// Which record.
    pub record_id: String,
    /// When (Unix seconds).
    pub at: i64,
    /// The ledger transaction of the read.
    pub tx_id: String,
}

/// One covered item of a product.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CoveredItem {
    /// An ICD-10-CM code (`E11.9`) or category (`E11`).
    pub code: String,
    /// Payout in minor units.
    pub payout: u64,
}

/// An insurer's product.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Product {
    /// The product id.
    pub product_id: String,
    /// The insurer's actor id.
    pub insurer_id: String,
    /// Its name.
    pub name: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Premium in minor units.
    pub premium: u64,
    /// Policy term in days.
    pub term_days: u32,
    /// Covered items, in order.
    pub items: Vec<CoveredItem>,
}

/// The phone's check of the `E(M_i)` an insurer issued.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum PolicyCheck {
    /// Not answered by the insurer yet: nothing to check.
    NotIssued,
    /// The insurer declined the purchase: never in force.
    Declined {
        /// The insurer's reason, to show the patient.
        reason: String,
    },
    /// Issued without ciphertexts: the ledger computes each `E(M_i)` from the
    /// product, so there is nothing of the insurer's to check.
    Computed,
    /// Issued with the insurer's ciphertexts (older ledgers), and every
    /// `E(M_i)` decrypts to the product's item i.
    Verified,
    /// These item indexes do not decrypt to the product's items: warn the patient.
    Mismatch {
        /// The mismatching item indexes.
        items: Vec<u32>,
    },
}

/// A policy the patient bought.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Policy {
    /// The policy id.
    pub policy_id: String,
    /// The product.
    pub product_id: String,
    /// The insurer.
    pub insurer_id: String,
    /// Whether the insurer issued it.
    pub issued: bool,
    /// When bought (Unix seconds).
    pub purchased_at: i64,
    /// Start of the term, once issued.
    pub starts_at: Option<i64>,
    /// End of the term, once issued.
    pub ends_at: Option<i64>,
    /// The check of the issued items.
    pub check: PolicyCheck,
}

/// The contract's decision on a claim.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ClaimDecision {
    /// Approved with the item's payout.
    Approved {
        /// Payout in minor units.
        payout: u64,
        /// Currency.
        currency: String,
    },
    /// Rejected.
    Rejected {
        /// The contract's reason (`proof_failed`, `record_outside_term`, …).
        reason: String,
    },
}

/// A claim and its decision.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Claim {
    /// The claim id.
    pub claim_id: String,
    /// The policy.
    pub policy_id: String,
    /// The supporting record.
    pub record_id: String,
    /// The covered item's index.
    pub item: u32,
    /// The decision.
    pub decision: ClaimDecision,
    /// When decided (Unix seconds).
    pub decided_at: i64,
    /// The insurer's payment reference, once paid.
    pub payment_reference: Option<String>,
}

/// One event from the relay's socket.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RelayEvent {
    /// The outbox id (increasing); acknowledged after the listener returns.
    pub id: i64,
    /// `access_requested`, `record_written`, `claim_decided`, …
    pub kind: String,
    /// The ids of the objects concerned, as JSON.
    pub data_json: String,
}

/// One statement the patient signed, from the wallet's local log.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SignedStatement {
    /// The action kind (`grant`, `file_claim`, …).
    pub kind: String,
    /// The one-time nonce.
    pub jti: String,
    /// When signed (Unix seconds).
    pub issued_at: i64,
    /// The compact JWS.
    pub token: String,
}

/// Progress of Paillier key generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct KeygenProgress {
    /// Prime candidates tested so far.
    pub candidates_tested: u64,
    /// Primes found so far (0, 1 or 2).
    pub primes_found: u8,
}

/// The text of a snake_case serde enum value (`treat`, `proof_failed`).
fn wire_name(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

impl From<ledger::AccessRequestState> for AccessRequest {
    fn from(r: ledger::AccessRequestState) -> Self {
        AccessRequest {
            request_id: r.request.0.to_string(),
            doctor_id: r.doctor.to_string(),
            actions: r.actions.into_iter().map(Into::into).collect(),
            categories: categories_of(&r.scope),
            purpose: wire_name(r.purpose),
            duration_secs: r.duration_secs,
            requested_at: r.requested_at,
            status: match r.status {
                ledger::RequestStatus::Pending => RequestStatus::Pending,
                ledger::RequestStatus::Granted => RequestStatus::Granted,
                ledger::RequestStatus::Denied => RequestStatus::Denied,
                ledger::RequestStatus::Revoked => RequestStatus::Revoked,
            },
            granted_actions: r
                .grant
                .as_ref()
                .map(|g| g.actions.iter().map(|&a| a.into()).collect()),
            expires_at: r.grant.map(|g| g.expires_at),
        }
    }
}

impl From<OpenedRecord> for MedicalRecord {
    fn from(r: OpenedRecord) -> Self {
        MedicalRecord {
            record_id: r.state.record.0.to_string(),
            doctor_id: r.state.doctor.to_string(),
            category: r.state.category.into(),
            written_at: r.state.written_at,
            fhir_json: r.fhir_json,
            code_check: match r.code_check {
                check::CodeCheck::Verified { code } => CodeCheck::Verified {
                    code: code.to_string(),
                },
                check::CodeCheck::Mismatch {
                    in_payload,
                    encrypted,
                } => CodeCheck::Mismatch {
                    in_payload,
                    encrypted: encrypted.map(|c| c.to_string()),
                },
            },
        }
    }
}

impl From<ledger::AccessLogEntry> for AccessLogEntry {
    fn from(e: ledger::AccessLogEntry) -> Self {
        AccessLogEntry {
            reader_id: e.reader.to_string(),
            record_id: e.record.0.to_string(),
            at: e.at,
            tx_id: e.tx_id,
        }
    }
}

impl From<ledger::ProductState> for Product {
    fn from(p: ledger::ProductState) -> Self {
        Product {
            product_id: p.product.0.to_string(),
            insurer_id: p.insurer.to_string(),
            name: p.name,
            currency: p.currency,
            premium: p.premium,
            term_days: p.term_days,
            items: p
                .items
                .into_iter()
                .map(|i| CoveredItem {
                    code: i.code,
                    payout: i.payout,
                })
                .collect(),
        }
    }
}

impl From<CheckedPolicy> for Policy {
    fn from(p: CheckedPolicy) -> Self {
        let s = p.state;
        Policy {
            policy_id: s.policy.0.to_string(),
            product_id: s.product.0.to_string(),
            insurer_id: s.insurer.to_string(),
            issued: s.status == ledger::PolicyStatus::Issued,
            purchased_at: s.purchased_at,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            check: match p.check {
                patient::PolicyCheck::NotIssued => PolicyCheck::NotIssued,
                patient::PolicyCheck::Declined { reason } => PolicyCheck::Declined { reason },
                patient::PolicyCheck::Computed => PolicyCheck::Computed,
                patient::PolicyCheck::Verified => PolicyCheck::Verified,
                patient::PolicyCheck::Mismatch { items } => PolicyCheck::Mismatch { items },
            },
        }
    }
}

impl From<ledger::ClaimState> for Claim {
    fn from(c: ledger::ClaimState) -> Self {
        Claim {
            claim_id: c.claim.0.to_string(),
            policy_id: c.policy.0.to_string(),
            record_id: c.record.0.to_string(),
            item: c.item,
            decision: match c.decision {
                ledger::Decision::Approved { payout, currency } => {
                    ClaimDecision::Approved { payout, currency }
                }
                ledger::Decision::Rejected { reason } => ClaimDecision::Rejected {
                    reason: wire_name(reason),
                },
            },
            decided_at: c.decided_at,
            payment_reference: c.payment.map(|p| p.reference),
        }
    }
}
