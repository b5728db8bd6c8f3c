//! What the contract stores in world state, and the keys it stores it under.
//!
//! The stored objects are the shared vocabulary of `carechain_core::ledger`,
//! re-exported here. Keys are `/`-separated paths whose first segment names
//! the table; secondary indexes are keys with empty values under the owner
//! (`patient-records/{patient}/{record}`) so that lists are range scans.

pub use carechain_core::ledger::{
    AccessLogEntry, AccessRequestState, ClaimState, Decision, GrantTerms, Identity, LedgerConfig,
    Payment, PolicyState, PolicyStatus, ProductState, RecordState, RejectionReason, RequestStatus,
    Signer, WrappedKeyState,
};

/// State keys.
pub mod keys {
    use std::fmt::Display;

    /// The ledger configuration.
    pub const CONFIG: &str = "config";

    /// An identity.
    pub fn identity(actor: impl Display) -> String {
        format!("identity/{actor}")
    }
    /// A used nonce.
    pub fn nonce(actor: impl Display, jti: &str) -> String {
        format!("nonce/{actor}/{jti}")
    }
    /// An access request.
    pub fn request(id: impl Display) -> String {
        format!("request/{id}")
    }
    /// Index: a patient's requests.
    pub fn patient_request(patient: impl Display, id: impl Display) -> String {
        format!("patient-requests/{patient}/{id}")
    }
    /// Index: a doctor's requests.
    pub fn doctor_request(doctor: impl Display, id: impl Display) -> String {
        format!("doctor-requests/{doctor}/{id}")
    }
    /// Index: the requests between a patient and a doctor.
    pub fn pair_request(patient: impl Display, doctor: impl Display, id: impl Display) -> String {
        format!("pair-requests/{patient}/{doctor}/{id}")
    }
    /// Index (rules ≥ 1): a grant in force between a patient and a doctor,
    /// valued with its terms; written on grant, deleted on revoke.
    pub fn live_grant(patient: impl Display, doctor: impl Display, id: impl Display) -> String {
        format!("live-grant/{patient}/{doctor}/{id}")
    }
    /// A record.
    pub fn record(id: impl Display) -> String {
        format!("record/{id}")
    }
    /// Index: a patient's records.
    pub fn patient_record(patient: impl Display, id: impl Display) -> String {
        format!("patient-records/{patient}/{id}")
    }
    /// A record's data key wrapped for one reader.
    pub fn record_key(record: impl Display, reader: impl Display) -> String {
        format!("record-key/{record}/{reader}")
    }
    /// A read of a patient's record, ordered by time.
    pub fn access(patient: impl Display, at: i64, tx_id: &str) -> String {
        format!("access/{patient}/{at:012}/{tx_id}")
    }
    /// A product.
    pub fn product(id: impl Display) -> String {
        format!("product/{id}")
    }
    /// A policy.
    pub fn policy(id: impl Display) -> String {
        format!("policy/{id}")
    }
    /// Index: a patient's policies.
    pub fn patient_policy(patient: impl Display, id: impl Display) -> String {
        format!("patient-policies/{patient}/{id}")
    }
    /// Index: an insurer's policies.
    pub fn insurer_policy(insurer: impl Display, id: impl Display) -> String {
        format!("insurer-policies/{insurer}/{id}")
    }
    /// A claim.
    pub fn claim(id: impl Display) -> String {
        format!("claim/{id}")
    }
    /// Marks a record as approved under a policy.
    pub fn claimed(policy: impl Display, record: impl Display) -> String {
        format!("claimed/{policy}/{record}")
    }
    /// Rules ≥ 3: what has been paid against a record, across every policy.
    pub fn paid(record: impl Display) -> String {
        format!("paid/{record}")
    }
    /// Rules ≥ 3: the patient's latest purchase of a product, valued with its policy id.
    pub fn held_product(patient: impl Display, product: impl Display) -> String {
        format!("held-product/{patient}/{product}")
    }
    /// Index: a patient's claims.
    pub fn patient_claim(patient: impl Display, id: impl Display) -> String {
        format!("patient-claims/{patient}/{id}")
    }
    /// Index: an insurer's claims.
    pub fn insurer_claim(insurer: impl Display, id: impl Display) -> String {
        format!("insurer-claims/{insurer}/{id}")
    }

    /// The exclusive end of a prefix range: the prefix with its last byte
    /// incremented (every key here is ASCII and prefixes end in `/`).
    pub fn prefix_end(prefix: &str) -> String {
        let mut end = prefix.as_bytes().to_vec();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        String::from_utf8(end).unwrap_or_default()
    }
}
