//! The insurer can never obtain a record or a diagnosis: every record route
//! refuses it, and the claim decision it sees carries only decision fields.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use carechain_core::statement::AccessAction;
use carechain_mobile::ClaimDecision;

use crate::relay::Relay;
use crate::staff::refused;
use crate::world::Cast;

/// The fields of a claim as the insurer sees it: ids, item index, decision, time, payment.
const CLAIM_FIELDS: [&str; 9] = [
    "claim",
    "policy",
    "record",
    "item",
    "patient",
    "insurer",
    "decision",
    "decided_at",
    "payment",
];

/// Asserts `claim` holds only decision fields and nothing of the record.
#[track_caller]
fn only_the_decision(claim: &Value) {
    let fields = claim.as_object().expect("a claim object");
    let keys: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
    let allowed: BTreeSet<&str> = CLAIM_FIELDS.into_iter().collect();
    assert!(
        keys.is_subset(&allowed),
        "unexpected claim fields {:?} in {claim}",
        keys.difference(&allowed).collect::<Vec<_>>()
    );
    let decision: BTreeSet<&str> = claim["decision"]
        .as_object()
        .expect("a decision object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        decision,
        BTreeSet::from(["decision", "payout", "currency"]),
        "{claim}"
    );
    // Nothing that looks like a code, a ciphertext, a proof or a payload.
    let text = claim.to_string();
    assert!(!text.contains("E11"), "a diagnosis code in {text}");
    for value in fields.values().filter_map(Value::as_str) {
        assert!(value.len() < 100, "a long opaque value {value:?} in {text}");
    }
}

/// Every record route refuses the insurer; its claim view is the decision only.
pub async fn insurer_never_sees_a_record(relay: Arc<Relay>) {
    let cast = Cast::new(&relay, "insurer").await;
    let (policy, record) = cast.insured_record().await;
    let claim = cast.patient.claim(policy, record).await;
    assert!(
        matches!(claim.decision, ClaimDecision::Approved { .. }),
        "{claim:?}"
    );
    let insurer = &cast.insurer;
    let patient = &cast.patient.id;

    // The records of a patient, their readers, one record, a logged read.
    refused(insurer.patient_records(patient).await, 403, "forbidden");
    refused(insurer.try_readers(patient).await, 403, "forbidden");
    let one = format!("v1/records/{record}");
    refused(insurer.session().get::<Value>(&one).await, 403, "forbidden");
    refused(insurer.read_record(record).await, 403, "forbidden");
    // The patient-only routes.
    for path in ["v1/patients/me/records", "v1/patients/me/access-log"] {
        refused(insurer.session().get::<Value>(path).await, 403, "forbidden");
    }
    // Nor can it ask the patient for access, which would lead to the records.
    let asked = insurer.try_request_access(patient, vec![AccessAction::Read]);
    refused(asked.await, 403, "forbidden");
    // The patient's access log shows no read by the insurer.
    let log = cast.patient.access_log().await;
    assert!(
        log.iter().all(|e| e.reader_id != insurer.id().to_string()),
        "{log:?}"
    );

    // The claim decision, one and listed, holds only the decision.
    let seen: Value = insurer
        .session()
        .get(&format!("v1/claims/{}", claim.claim_id))
        .await
        .expect("the insurer's view of the claim");
    assert_eq!(seen["decision"]["decision"], "approved");
    assert_eq!(seen["decision"]["payout"], 120_000);
    only_the_decision(&seen);
    let listed: Vec<Value> = insurer
        .session()
        .list("v1/claims")
        .await
        .expect("the insurer's claims");
    assert_eq!(listed.len(), 1, "{listed:?}");
    only_the_decision(&listed[0]);
}
