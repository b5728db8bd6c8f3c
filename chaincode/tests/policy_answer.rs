//! The insurer's answer to a purchase under rules 2: acceptance without
//! ciphertexts (the claim check computes `E(M_i) = (1+n)^{M_i}` from the
//! product) or a decline with a reason; who may answer; and that rules 1
//! keeps the ciphertext-carrying issue and has no decline.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

mod support;

use carechain_core::ids::{B64, PolicyId};
use carechain_core::statement::*;
use serde_json::Value;
use support::insurance::*;
use support::*;

/// The acceptance of `policy` (no ciphertexts).
fn accept(policy: PolicyId) -> Action {
    Action::IssuePolicy(carechain_testkit::statements::accept(policy))
}

/// The decline of `policy` with `reason`.
fn decline(policy: PolicyId, reason: &str) -> Action {
    Action::DeclinePolicy(carechain_testkit::statements::decline(policy, reason))
}

/// The policy as the ledger answers it.
fn policy_state(w: &mut World, policy: PolicyId) -> Value {
    w.query("policy", &[&policy.to_string()]).unwrap()
}

#[test]
fn accepting_issues_the_policy_without_ciphertexts() {
    let (mut w, patient, _, insurer) = setup();
    let product = w.product(&insurer, &[("E11", 50_000), ("I10", 1_000)]);
    let policy = w.purchase(&patient, product);

    // Ciphertexts are refused: under rules 2 the contract computes E(M_i).
    let items = carechain_testkit::statements::policy_items(
        &patient,
        &w.covered_items(product),
        &mut w.rng,
    );
    let with_items = Action::IssuePolicy(IssuePolicy {
        policy,
        items: items.clone(),
    });
    let err = w.refuses_as(&insurer, with_items, "invalid_payload");
    assert!(err.message.contains("no ciphertexts"), "{err:?}");

    let issued = w.submit(&insurer, accept(policy)).unwrap();
    assert_eq!(issued["status"], "issued");
    assert_eq!(issued["items"], serde_json::json!([]));
    assert!(issued.get("declined").is_none(), "{issued}");
    assert_eq!(
        issued["ends_at"].as_i64().unwrap() - issued["starts_at"].as_i64().unwrap(),
        365 * DAY
    );
    assert_eq!(policy_state(&mut w, policy), issued);
    let (name, event) = w.event();
    assert_eq!(name, "policy_issued");
    assert_eq!(event["patient"], patient.id().as_str());

    // Answered once: neither a second acceptance nor a decline.
    w.refuses_as(&insurer, accept(policy), "conflict");
    w.refuses_as(&insurer, decline(policy, "changed our mind"), "conflict");
}

#[test]
fn a_policy_with_a_wrong_ciphertext_cannot_exist() {
    let (mut w, patient, doctor, insurer) = setup();
    let product = w.product(&insurer, &[("E11", 50_000)]);
    let policy = w.purchase(&patient, product);
    // The rules-1 attack: E(I10) for an E11 item. Refused, whatever it encrypts.
    let wrong = carechain_testkit::statements::policy_items(
        &patient,
        &[CoveredItem {
            code: "I10".into(),
            payout: 1,
        }],
        &mut w.rng,
    );
    let act = Action::IssuePolicy(IssuePolicy {
        policy,
        items: wrong,
    });
    w.refuses_as(&insurer, act, "invalid_payload");
    w.submit(&insurer, accept(policy)).unwrap();
    w.advance(60);
    // The covered diagnosis is paid: there was no ciphertext to get wrong.
    let record = w.write(&doctor, &patient, "E11.9");
    let result = w.claim(&patient, policy, record, 0).unwrap();
    assert_eq!(decision(&result), ("approved", None));
    assert_eq!(result["decision"]["payout"], 50_000);
}

#[test]
fn claims_under_an_accepted_policy_are_decided_from_the_computed_items() {
    let (mut w, patient, doctor, _, policy) =
        insured(&[("I10", 10_000), ("E11", 50_000), ("C50.912", 90_000)]);
    let diabetes = w.write(&doctor, &patient, "E11.65");
    let cancer = w.write(&doctor, &patient, "C50.912");
    let flu = w.write(&doctor, &patient, "J10.1");

    // The wrong item first: the proof fails and the record stays claimable.
    let wrong = w.claim(&patient, policy, diabetes, 0).unwrap();
    assert_eq!(decision(&wrong), ("rejected", Some("proof_failed")));
    let right = w.claim(&patient, policy, diabetes, 1).unwrap();
    assert_eq!(decision(&right), ("approved", None));
    assert_eq!(right["decision"]["payout"], 50_000);
    let full_code = w.claim(&patient, policy, cancer, 2).unwrap();
    assert_eq!(decision(&full_code), ("approved", None));
    for item in 0..3 {
        let uncovered = w.claim(&patient, policy, flu, item).unwrap();
        assert_eq!(decision(&uncovered), ("rejected", Some("proof_failed")));
    }
    // A ρ for one record does not prove another of the same code.
    let second = w.write(&doctor, &patient, "E11.65");
    let borrowed = w.proof(&patient, policy, diabetes, 1);
    let result = w.claim_with(&patient, policy, second, 1, borrowed).unwrap();
    assert_eq!(decision(&result), ("rejected", Some("proof_failed")));
}

#[test]
fn declining_records_the_reason_and_leaves_no_active_policy() {
    let (mut w, patient, doctor, insurer) = setup();
    let product = w.product(&insurer, &[("E11", 50_000)]);
    let policy = w.purchase(&patient, product);

    for reason in ["", "   ", &"x".repeat(501)] {
        let err = w.refuses_as(&insurer, decline(policy, reason), "invalid_payload");
        assert!(err.message.contains("reason"), "{err:?}");
    }
    let declined = w
        .submit(
            &insurer,
            decline(policy, "  outside our underwriting area "),
        )
        .unwrap();
    assert_eq!(declined["status"], "declined");
    assert_eq!(
        declined["declined"]["reason"],
        "outside our underwriting area"
    );
    assert_eq!(declined["declined"]["declined_at"], w.now());
    assert!(declined["starts_at"].is_null() && declined["ends_at"].is_null());
    assert_eq!(policy_state(&mut w, policy), declined);
    let (name, event) = w.event();
    assert_eq!(name, "policy_declined");
    assert_eq!(event["policy"], policy.to_string());
    assert_eq!(event["patient"], patient.id().as_str());
    assert_eq!(event["insurer"], insurer.id().as_str());

    // Never in force: no issue after it, no second decline, no claim paid.
    w.refuses_as(&insurer, accept(policy), "conflict");
    w.refuses_as(&insurer, decline(policy, "again"), "conflict");
    w.advance(60);
    let record = w.write(&doctor, &patient, "E11.9");
    let result = w
        .claim_with(&patient, policy, record, 0, B64(vec![1; 256]))
        .unwrap();
    assert_eq!(decision(&result), ("rejected", Some("policy_not_active")));
    let mine = w
        .query("policies_for_patient", &[patient.id().as_str()])
        .unwrap();
    assert_eq!(mine["items"][0]["status"], "declined");
}

#[test]
fn only_the_products_insurer_answers_a_purchase() {
    let (mut w, patient, doctor, insurer) = setup();
    let other_insurer = w.registered(Role::Insurer);
    let product = w.product(&insurer, &[("E11", 50_000)]);
    let policy = w.purchase(&patient, product);
    let before = policy_state(&mut w, policy);

    for stranger in [&patient, &doctor] {
        w.refuses_as(stranger, accept(policy), "wrong_role");
        w.refuses_as(stranger, decline(policy, "no"), "wrong_role");
    }
    w.refuses_admin(accept(policy), "wrong_role");
    w.refuses_admin(decline(policy, "no"), "wrong_role");
    // Another insurer does not even see it.
    w.refuses_as(&other_insurer, accept(policy), "not_found");
    w.refuses_as(&other_insurer, decline(policy, "no"), "not_found");
    let unknown = PolicyId::random(&mut w.rng);
    w.refuses_as(&insurer, accept(unknown), "not_found");
    w.refuses_as(&insurer, decline(unknown, "no"), "not_found");
    assert_eq!(policy_state(&mut w, policy), before);
    assert_eq!(before["status"], "purchased");
}

#[test]
fn rules_1_has_no_decline_and_no_issue_without_ciphertexts() {
    let (mut w, patient, _, insurer) = setup_under(Some(1));
    let product = w.product(&insurer, &[("E11", 50_000)]);
    let policy = w.purchase(&patient, product);
    let err = w.refuses_as(&insurer, decline(policy, "no"), "bad_arguments");
    assert!(err.message.contains("rules 2"), "{err:?}");
    let err = w.refuses_as(&insurer, accept(policy), "invalid_payload");
    assert!(
        err.message.contains("one ciphertext per covered item"),
        "{err:?}"
    );
    let issued = w.issue(&insurer, &patient, policy, product).unwrap();
    assert_eq!(issued["items"].as_array().unwrap().len(), 1);
}
