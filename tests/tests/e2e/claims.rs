//! Claims the contract refuses: a replayed statement, a second claim on the
//! same record and policy, a record from before the term, a forged proof.

use std::sync::Arc;
use std::time::Duration;

use rand_core::RngCore as _;
use reqwest::StatusCode;
use serde_json::Value;

use carechain_core::OsRng;
use carechain_core::ids::{B64, ClaimId};
use carechain_core::statement::{Action, FileClaim};
use carechain_mobile::ClaimDecision;

use crate::http::sign;
use crate::relay::Relay;
use crate::world::Cast;

/// Asserts the phone filed a claim that was approved; returns its id.
#[track_caller]
fn approved(claim: &carechain_mobile::Claim) -> String {
    assert_eq!(
        claim.decision,
        ClaimDecision::Approved {
            payout: 120_000,
            currency: "EUR".into()
        }
    );
    claim.claim_id.clone()
}

/// Asserts the phone's claim was rejected for `reason`.
#[track_caller]
fn rejected(claim: &carechain_mobile::Claim, reason: &str) {
    assert_eq!(
        claim.decision,
        ClaimDecision::Rejected {
            reason: reason.into()
        },
        "{claim:?}"
    );
}

/// The same signed claim sent again (same `jti`) takes effect once: it is
/// answered with the first claim's transaction, and there is one claim.
pub async fn replayed_claim_takes_effect_once(relay: Arc<Relay>) {
    let cast = Cast::new(&relay, "replay").await;
    let (policy, record) = cast.insured_record().await;
    let phone = &cast.patient;
    let claim = phone.claim(policy, record).await;
    approved(&claim);
    let signed = phone
        .wallet
        .statement_log()
        .expect("the statement log")
        .into_iter()
        .rfind(|s| s.kind == "file_claim")
        .expect("the wallet logged the claim");

    // Whoever captured it resends it with a fresh idempotency key.
    let replay = phone
        .post_by_hand("v1/claims", &signed.token)
        .await
        .ok(StatusCode::CREATED);
    assert_eq!(
        replay["result"]["claim"],
        claim.claim_id.as_str(),
        "{replay}"
    );
    let claims = phone.client.claims().await.expect("claims");
    assert_eq!(claims.len(), 1, "{claims:?}");
}

/// A second claim for the same record under the same policy: already_claimed.
pub async fn double_claim_rejected(relay: Arc<Relay>) {
    let cast = Cast::new(&relay, "double").await;
    let (policy, record) = cast.insured_record().await;
    let first = cast.patient.claim(policy, record).await;
    approved(&first);
    let second = cast.patient.claim(policy, record).await;
    rejected(&second, "already_claimed");
    assert_ne!(first.claim_id, second.claim_id);
}

/// A record written before the policy was issued: record_outside_term; a
/// record with the same diagnosis written inside the term is approved.
pub async fn out_of_term_record_rejected(relay: Arc<Relay>) {
    let cast = Cast::new(&relay, "term").await;
    cast.grant_doctor().await;
    let (_, policy) = cast.buy("E11.9").await;
    let before = cast.doctor.write_condition(&cast.patient.id, "E11.9").await;
    // Ledger time has one-second resolution: the term must start later.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    cast.insurer.issue(policy).await;
    let claim = cast.patient.claim(policy, before).await;
    rejected(&claim, "record_outside_term");

    let during = cast.doctor.write_condition(&cast.patient.id, "E11.9").await;
    let claim = cast.patient.claim(policy, during).await;
    approved(&claim);
}

/// A claim with a random ρ instead of the zero proof: proof_failed, though
/// the record does carry the covered diagnosis (the phone's proof then passes).
pub async fn forged_proof_rejected(relay: Arc<Relay>) {
    let cast = Cast::new(&relay, "forged").await;
    let (policy, record) = cast.insured_record().await;
    let phone = &cast.patient;

    let width = phone.paillier_bits / 8;
    let mut rho = vec![0u8; width];
    OsRng.fill_bytes(&mut rho[1..]);
    rho[width - 1] |= 1;
    let claim = ClaimId::random(&mut OsRng);
    let act = Action::FileClaim(FileClaim {
        claim,
        policy,
        record,
        item: 0,
        proof: B64(rho),
    });
    let jws = sign(phone.signing_key(), act);
    let reply = phone
        .post_by_hand("v1/claims", &jws)
        .await
        .ok(StatusCode::CREATED);
    assert_eq!(
        reply["result"]["decision"]["decision"], "rejected",
        "{reply}"
    );
    assert_eq!(
        reply["result"]["decision"]["reason"], "proof_failed",
        "{reply}"
    );
    let seen: Value = phone
        .session
        .get(&format!("v1/claims/{claim}"))
        .await
        .expect("the patient's claim");
    assert_eq!(seen["decision"]["reason"], "proof_failed", "{seen}");

    // A rejection does not use the record up: the honest proof is approved.
    let honest = phone.claim(policy, record).await;
    approved(&honest);
    let listed: Vec<Value> = phone
        .session
        .list("v1/claims")
        .await
        .expect("the patient's claims");
    let decisions: Vec<&Value> = listed.iter().map(|c| &c["decision"]["decision"]).collect();
    assert_eq!(decisions.len(), 2, "{listed:?}");
}
