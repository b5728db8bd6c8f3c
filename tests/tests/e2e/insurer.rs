//! The insurer can never obtain a record or a diagnosis: every record route
//! refuses it, and the claim decision it sees carries only decision fields.
//! Nor can it issue a policy that never pays: there is no ciphertext to get
//! wrong.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use carechain_core::OsRng;
use carechain_core::ledger::PolicyStatus;
use carechain_core::protocol::claim::encrypt_policy_items;
use carechain_core::protocol::write::paillier_key;
use carechain_core::statement::{AccessAction, Action, CoveredItem, IssuePolicy};
use carechain_mobile::{ClaimDecision, PolicyCheck};

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

/// A policy with a wrong ciphertext cannot exist: an issue carrying the
/// insurer's `E(M_i)` — here `E(I10)` for an E11.9 item — is refused, the
/// acceptance carries none and the covered claim is paid; a declined
/// purchase shows the phone the insurer's reason and cannot be claimed under.
pub async fn no_policy_with_a_wrong_ciphertext(relay: Arc<Relay>) {
    let cast = Cast::new(&relay, "ciphertext").await;
    cast.grant_doctor().await;
    let (_, policy) = cast.buy("E11.9").await;
    let insurer = &cast.insurer;
    let keys = insurer
        .identity(&cast.patient.id)
        .await
        .expect("the patient's keys");
    let pk = paillier_key(&keys.paillier.expect("a Paillier key").public_key)
        .expect("a well-formed key");
    let wrong = CoveredItem {
        code: "I10".into(),
        payout: 1,
    };
    let items = encrypt_policy_items(&pk, &[wrong], &mut OsRng).expect("E(I10)");
    let forged = Action::IssuePolicy(IssuePolicy { policy, items });
    let path = format!("v1/policies/{policy}/issue");
    refused(
        insurer.submit::<Value>(&path, forged).await,
        400,
        "invalid_payload",
    );
    insurer.issue(policy).await;
    let phone = &cast.patient;
    let mine = phone.client.policies().await.expect("policies");
    let issued = mine
        .iter()
        .find(|p| p.policy_id == policy.to_string())
        .expect("the policy is listed");
    assert!(issued.issued, "{issued:?}");
    assert_eq!(issued.check, PolicyCheck::Computed, "{issued:?}");
    let record = cast.doctor.write_condition(&phone.id, "E11.9").await;
    let claim = phone.claim(policy, record).await;
    assert!(
        matches!(claim.decision, ClaimDecision::Approved { .. }),
        "{claim:?}"
    );

    // A decline: the phone sees the reason; nothing can be claimed under it.
    let (_, declined_id) = cast.buy("E11.9").await;
    let declined = declined_id.to_string();
    let answer = insurer
        .decline_policy(declined_id, "outside our underwriting area")
        .await
        .expect("the insurer declines");
    assert_eq!(answer.result.status, PolicyStatus::Declined);
    refused(insurer.issue_policy(declined_id).await, 409, "conflict");
    let mine = phone.client.policies().await.expect("policies");
    let seen = mine
        .iter()
        .find(|p| p.policy_id == declined)
        .expect("the declined policy is listed");
    assert!(!seen.issued, "{seen:?}");
    assert_eq!(
        seen.check,
        PolicyCheck::Declined {
            reason: "outside our underwriting area".into()
        }
    );
    let refused_claim = phone
        .client
        .file_claim(declined, record.to_string(), true)
        .await;
    assert!(refused_claim.is_err(), "{refused_claim:?}");
}
