//! The insurer can never obtain a record or a diagnosis: every record route
//! refuses it, and the claim decision it sees carries only decision fields.

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use carechain_core::statement::{AccessAction, Action, ReadRecord};
use carechain_mobile::ClaimDecision;

use crate::http::items;
use crate::relay::Relay;
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
    let claim = cast
        .patient
        .client
        .file_claim(policy.to_string(), record.to_string(), false)
        .await
        .expect("the claim is filed");
    assert!(
        matches!(claim.decision, ClaimDecision::Approved { .. }),
        "{claim:?}"
    );
    let insurer = &cast.insurer;
    let patient = &cast.patient.id;

    // The records of a patient, their readers, one record, a logged read.
    insurer
        .get(&format!("/v1/patients/{patient}/records"))
        .await
        .refused(StatusCode::FORBIDDEN, "forbidden");
    insurer
        .get(&format!("/v1/patients/{patient}/readers?category=general"))
        .await
        .refused(StatusCode::FORBIDDEN, "forbidden");
    insurer
        .get(&format!("/v1/records/{record}"))
        .await
        .refused(StatusCode::FORBIDDEN, "forbidden");
    insurer
        .post(
            &format!("/v1/records/{record}/read"),
            Action::ReadRecord(ReadRecord { record }),
        )
        .await
        .refused(StatusCode::FORBIDDEN, "forbidden");
    // The patient-only routes.
    for path in ["/v1/patients/me/records", "/v1/patients/me/access-log"] {
        insurer
            .get(path)
            .await
            .refused(StatusCode::FORBIDDEN, "forbidden");
    }
    // Nor can it ask the patient for access, which would lead to the records.
    let asked = insurer
        .post(
            "/v1/requests",
            Action::AccessRequest(carechain_core::statement::AccessRequest {
                request: carechain_core::ids::RequestId::random(&mut carechain_core::OsRng),
                patient: patient.clone(),
                actions: vec![AccessAction::Read],
                scope: carechain_core::statement::Scope::All,
                purpose: carechain_core::statement::PurposeOfUse::Treat,
                duration_secs: 86_400,
            }),
        )
        .await;
    asked.refused(StatusCode::FORBIDDEN, "forbidden");
    // The patient's access log shows no read by the insurer.
    let log = cast
        .patient
        .client
        .access_log()
        .await
        .expect("the access log");
    assert!(
        log.iter().all(|e| e.reader_id != insurer.id().to_string()),
        "{log:?}"
    );

    // The claim decision, one and listed, holds only the decision.
    let seen = insurer
        .get(&format!("/v1/claims/{}", claim.claim_id))
        .await
        .ok(StatusCode::OK);
    assert_eq!(seen["decision"]["decision"], "approved");
    assert_eq!(seen["decision"]["payout"], 120_000);
    only_the_decision(&seen);
    let listed = insurer.get("/v1/claims").await.ok(StatusCode::OK);
    let listed = items(&listed);
    assert_eq!(listed.len(), 1, "{listed:?}");
    only_the_decision(&listed[0]);
}
