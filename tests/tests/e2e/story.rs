//! The whole story, from a new phone to a paid claim.

use std::sync::Arc;

use carechain_core::ledger::Decision;
use carechain_core::statement::{AccessAction, Role};
use carechain_mobile::{AccessKind, ClaimDecision, CodeCheck, PolicyCheck, RequestStatus};

use crate::http::now;
use crate::phone::{Inbox, Patient};
use crate::relay::Relay;
use crate::staff::{admin, enrol, refused};

/// Register a patient on a phone, a doctor and an insurer approved by the
/// admin; the doctor's request reaches the phone's listener; approve; the
/// doctor writes; the patient reads (E(code) checked); buy, issue, claim
/// APPROVED with the payout, paid; the access log shows the doctor's read.
pub async fn whole_story(relay: Arc<Relay>) {
    let admin = admin(&relay).await;
    let doctor = enrol(&admin, Role::Doctor, "dr-house").await;
    let insurer = enrol(&admin, Role::Insurer, "acme-health").await;
    let patient = Patient::on_new_phone(&relay, "Alice").await;
    assert_eq!(patient.paillier_bits, 3072);

    // The request reaches the phone through its event listener.
    let inbox = Arc::new(Inbox::default());
    let subscription = patient
        .client
        .subscribe_events(inbox.clone(), "alice-phone".into(), None)
        .expect("the phone subscribes");
    let request = doctor
        .request_access(&patient.id, vec![AccessAction::Read, AccessAction::Write])
        .await;
    let request_id = request.to_string();
    let event = inbox.wait_for("access_requested", &request_id).await;
    assert!(
        event.data_json.contains(&doctor.id().to_string()),
        "{event:?}"
    );
    let pending = patient
        .client
        .pending_requests()
        .await
        .expect("pending requests");
    let asked = pending
        .iter()
        .find(|r| r.request_id == request_id)
        .expect("the request is pending on the phone");
    assert_eq!(asked.doctor_id, doctor.id().to_string());
    assert_eq!(asked.actions, vec![AccessKind::Read, AccessKind::Write]);
    assert_eq!(asked.status, RequestStatus::Pending);

    // Approve.
    let until = now() + 7 * 86_400;
    patient
        .client
        .approve(
            request_id.clone(),
            vec![AccessKind::Read, AccessKind::Write],
            None,
            until,
        )
        .await
        .expect("the patient approves");
    let grants = patient.grants().await;
    let grant = grants
        .iter()
        .find(|g| g.request_id == request_id)
        .expect("the grant is listed");
    assert_eq!(grant.status, RequestStatus::Granted);
    assert_eq!(grant.expires_at, Some(until));

    // The patient buys a policy covering category E11 before the diagnosis.
    let product = insurer.publish("E11", 50_000).await;
    let products = patient.client.products().await.expect("products");
    assert!(products.iter().any(|p| p.product_id == product.to_string()));
    let policy = patient
        .client
        .purchase(product.to_string())
        .await
        .expect("the patient buys");
    insurer.issue(policy.parse().expect("a policy id")).await;
    let policies = patient.client.policies().await.expect("policies");
    let bought = policies
        .iter()
        .find(|p| p.policy_id == policy)
        .expect("the policy is listed");
    assert!(bought.issued);
    assert_eq!(
        bought.check,
        PolicyCheck::Computed,
        "issued without ciphertexts: the ledger computes E(M_i)"
    );

    // The doctor writes a record; the patient reads it and the E(code) check passes.
    let record = doctor.write_condition(&patient.id, "E11.9").await;
    let records = patient.client.records().await.expect("records");
    assert_eq!(records.len(), 1, "{records:?}");
    let mine = &records[0];
    assert_eq!(mine.record_id, record.to_string());
    assert_eq!(mine.doctor_id, doctor.id().to_string());
    assert_eq!(
        mine.code_check,
        CodeCheck::Verified {
            code: "E11.9".into()
        }
    );
    assert!(mine.fhir_json.contains("E11.9"), "{}", mine.fhir_json);
    inbox.wait_for("record_written", &record.to_string()).await;

    // The doctor's read goes through a logged ledger transaction.
    let fhir = doctor.read_condition(record).await;
    assert_eq!(fhir["code"]["coding"][0]["code"], "E11.9");

    // Claim: approved with the payout, at once.
    let claim = patient
        .client
        .file_claim(policy.clone(), record.to_string(), false)
        .await
        .expect("the claim is filed");
    assert_eq!(
        claim.decision,
        ClaimDecision::Approved {
            payout: 50_000,
            currency: "EUR".into()
        }
    );
    inbox.wait_for("claim_decided", &claim.claim_id).await;
    let claim_id = claim.claim_id.parse().expect("a claim id");
    let seen = insurer.claim(claim_id).await.expect("the insurer's view");
    assert_eq!(
        seen.decision,
        Decision::Approved {
            payout: 50_000,
            currency: "EUR".into()
        },
        "{seen:?}"
    );

    // The insurer marks it paid, once.
    let paid = insurer
        .try_mark_paid(claim_id, "PAY-1")
        .await
        .expect("the claim is marked paid");
    assert!(paid.payment.is_some(), "{paid:?}");
    refused(
        insurer.try_mark_paid(claim_id, "PAY-2").await,
        409,
        "conflict",
    );
    let claims = patient.client.claims().await.expect("claims");
    let paid = claims
        .iter()
        .find(|c| c.claim_id == claim.claim_id)
        .expect("the claim is listed");
    assert_eq!(paid.payment_reference.as_deref(), Some("PAY-1"));

    // The access log shows the doctor's read, and only it.
    let log = patient.access_log().await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].reader_id, doctor.id().to_string());
    assert_eq!(log[0].record_id, record.to_string());
    assert!(!log[0].tx_id.is_empty());

    // The wallet logged every statement the patient signed.
    let kinds: Vec<String> = patient
        .wallet
        .statement_log()
        .expect("the statement log")
        .into_iter()
        .map(|s| s.kind)
        .collect();
    for kind in [
        "register_identity",
        "grant",
        "purchase_policy",
        "file_claim",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
    subscription.stop();
}
