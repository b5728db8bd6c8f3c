//! Claims decided at once from the zero proof: every rejection reason and every refusal.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

mod support;

use carechain_core::ids::{B64, ClaimId, PolicyId, RecordId};
use carechain_core::statement::*;
use carechain_testkit::statements::{product as product_body, purchase, visit};

/// A visit on `date_of_service` billed `billed` EUR minor units.
fn visit_billed(date_of_service: i64, billed: u64) -> Treatment {
    Treatment {
        billed,
        ..visit(date_of_service)
    }
}
use support::insurance::*;
use support::*;

#[test]
fn approved_when_the_code_equals_a_covered_full_code() {
    let (mut w, patient, doctor, insurer) = setup();
    let product = w.product(&insurer, &[("I10", 10_000), ("E11.9", 50_000)]);
    let policy = w.policy(&insurer, &patient, product);
    w.advance(3600);
    let record = w.write(&doctor, &patient, "E11.9");
    let result = w.claim(&patient, policy, record, 1).unwrap();
    assert_eq!(decision(&result), ("approved", None));
    assert_eq!(result["decision"]["payout"], 50_000);
    assert_eq!(result["decision"]["currency"], "EUR");

    // The event tells the insurer the decision and ids only.
    let (name, event) = w.driver.last_event.clone().unwrap();
    assert_eq!(name, "claim_decided");
    assert_eq!(event["insurer"], insurer.id().as_str());
    assert_eq!(event["decision"], "approved");
    let shown = event.to_string();
    assert!(!shown.contains("E11") && !shown.contains("code"), "{shown}");
}

#[test]
fn approved_when_the_code_falls_in_a_covered_category() {
    let (mut w, patient, doctor, _, policy) = insured(&[("E11", 50_000)]);
    let record = w.write(&doctor, &patient, "E11.65");
    let result = w.claim(&patient, policy, record, 0).unwrap();
    assert_eq!(decision(&result), ("approved", None));
}

#[test]
fn an_uncovered_diagnosis_is_rejected_with_proof_failed() {
    let (mut w, patient, doctor, _, policy) = insured(&[("E11", 50_000), ("C50.912", 90_000)]);
    let flu = w.write(&doctor, &patient, "J10.1");
    for item in [0, 1] {
        let result = w.claim(&patient, policy, flu, item).unwrap();
        assert_eq!(decision(&result), ("rejected", Some("proof_failed")));
    }
    // A code in another category is not covered by a category item either.
    let close = w.write(&doctor, &patient, "E10.9");
    let result = w.claim(&patient, policy, close, 0).unwrap();
    assert_eq!(decision(&result), ("rejected", Some("proof_failed")));
    // And a full-code item does not cover a sibling code.
    let sibling = w.write(&doctor, &patient, "C50.911");
    let result = w.claim(&patient, policy, sibling, 1).unwrap();
    assert_eq!(decision(&result), ("rejected", Some("proof_failed")));
}

#[test]
fn a_proof_made_for_another_ciphertext_is_rejected() {
    let (mut w, patient, doctor, _, policy) = insured(&[("E11", 50_000)]);
    let first = w.write(&doctor, &patient, "E11.9");
    let second = w.write(&doctor, &patient, "E11.9");
    // A valid proof for the first record, replayed for the second (same code, other randomness).
    let proof = w.proof(&patient, policy, first, 0);
    let result = w
        .claim_with(&patient, policy, second, 0, proof.clone())
        .unwrap();
    assert_eq!(decision(&result), ("rejected", Some("proof_failed")));

    // Garbage that is not even a valid ρ is a rejection, not a crash.
    for junk in [vec![], vec![0u8; 8], vec![0xff; 600]] {
        let result = w
            .claim_with(&patient, policy, second, 0, B64(junk))
            .unwrap();
        assert_eq!(decision(&result), ("rejected", Some("proof_failed")));
    }

    // The honest proof for the first record still works.
    let result = w.claim_with(&patient, policy, first, 0, proof).unwrap();
    assert_eq!(decision(&result), ("approved", None));
}

#[test]
fn the_same_record_is_never_approved_twice_under_one_policy() {
    let (mut w, patient, doctor, _, policy) = insured(&[("E11", 50_000), ("E11.9", 70_000)]);
    let record = w.write(&doctor, &patient, "E11.9");
    let first = w.claim(&patient, policy, record, 0).unwrap();
    assert_eq!(decision(&first), ("approved", None));
    for item in [0, 1] {
        let again = w.claim(&patient, policy, record, item).unwrap();
        assert_eq!(decision(&again), ("rejected", Some("already_claimed")));
    }
}

#[test]
fn before_rules_3_a_record_is_paid_again_under_a_second_policy_of_the_same_product() {
    let (mut w, patient, doctor, insurer) = setup_under(Some(2));
    let product = w.product(&insurer, &[("E11", 50_000), ("E11.9", 70_000)]);
    let policy = w.policy(&insurer, &patient, product);
    let other_policy = w.policy(&insurer, &patient, product);
    w.advance(60);
    let record = w.write(&doctor, &patient, "E11.9");
    let first = w.claim(&patient, policy, record, 0).unwrap();
    assert_eq!(decision(&first), ("approved", None));
    // Under another policy the record can be claimed: the old meaning, kept for replay.
    let elsewhere = w.claim(&patient, other_policy, record, 1).unwrap();
    assert_eq!(decision(&elsewhere), ("approved", None));
    assert_eq!(elsewhere["decision"]["payout"], 70_000);
}

#[test]
fn under_rules_3_a_second_active_policy_of_a_product_is_refused_at_purchase() {
    let (mut w, patient, _, insurer) = setup();
    let product = w.product(&insurer, &[("E11", 50_000)]);
    let first = w.purchase(&patient, product);
    let again = purchase(product, &mut w.rng);
    // Awaiting the insurer is active; so is issued and in term.
    let err = w.refuses_as(
        &patient,
        Action::PurchasePolicy(again.clone()),
        "policy_already_active",
    );
    assert!(err.message.contains(&first.to_string()), "{}", err.message);
    w.issue(&insurer, &patient, first, product).unwrap();
    w.refuses_as(
        &patient,
        Action::PurchasePolicy(again.clone()),
        "policy_already_active",
    );
    // Once its term is over the product can be bought again.
    w.advance(366 * DAY);
    w.submit(&patient, Action::PurchasePolicy(again.clone()))
        .unwrap();
    // A declined purchase does not count.
    w.decline(&insurer, again.policy, "no").unwrap();
    w.purchase(&patient, product);
    // Another patient, or another product, is not concerned.
    let other = w.patient(1);
    w.purchase(&other, product);
    let second_product = w.product(&insurer, &[("E11", 50_000)]);
    w.purchase(&patient, second_product);
}

#[test]
fn under_rules_3_a_treatment_is_paid_once_across_policies_and_insurers() {
    let (mut w, patient, doctor, insurer) = setup();
    let other_insurer = w.registered(Role::Insurer);
    let first_product = w.product(&insurer, &[("E11", 50_000)]);
    let second_product = w.product(&other_insurer, &[("E11.9", 70_000)]);
    let first = w.policy(&insurer, &patient, first_product);
    let second = w.policy(&other_insurer, &patient, second_product);
    let mut in_dollars = product_body(&[("E11", 10_000)], &mut w.rng);
    in_dollars.currency = "USD".into();
    let usd_product = in_dollars.product;
    w.submit(&other_insurer, Action::PublishProduct(in_dollars))
        .unwrap();
    let usd = w.policy(&other_insurer, &patient, usd_product);
    w.advance(60);
    // Billed 800.00: the first insurer pays its 500.00 in full…
    let record = w.write_treated(&doctor, &patient, "E11.9", visit_billed(w.now(), 80_000));
    let paid = w.claim(&patient, first, record, 0).unwrap();
    assert_eq!(decision(&paid), ("approved", None));
    assert_eq!(paid["decision"]["payout"], 50_000);
    // …the second only the remaining 300.00 of its 700.00…
    let rest = w.claim(&patient, second, record, 0).unwrap();
    assert_eq!(decision(&rest), ("approved", None));
    assert_eq!(rest["decision"]["payout"], 30_000);
    // …and nothing remains for a third, whose claim changes nothing but itself.
    let before = w.snapshot();
    let none = w
        .claim_with(&patient, usd, record, 0, B64(vec![1; 256]))
        .unwrap();
    assert_eq!(decision(&none), ("rejected", Some("currency_mismatch")));
    let late = w.claim(&patient, second, record, 0).unwrap();
    assert_eq!(decision(&late), ("rejected", Some("already_claimed")));
    let claim_keys = |snapshot: &[(String, Vec<u8>)]| -> Vec<String> {
        snapshot
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| {
                !k.starts_with("claim/") && !k.contains("-claims/") && !k.starts_with("nonce/")
            })
            .collect()
    };
    assert_eq!(claim_keys(&before), claim_keys(&w.snapshot()));
    let third_product = w.product(&insurer, &[("E11", 90_000)]);
    let third = w.policy(&insurer, &patient, third_product);
    let record_later = w.write_treated(&doctor, &patient, "E11.9", visit_billed(w.now(), 80_000));
    let settled = w.claim(&patient, third, record, 0).unwrap();
    assert_eq!(
        decision(&settled),
        ("rejected", Some("treatment_paid_in_full"))
    );
    // Another treatment is paid on its own bill.
    let other = w.claim(&patient, third, record_later, 0).unwrap();
    assert_eq!(other["decision"]["payout"], 80_000);
}

#[test]
fn a_rejected_claim_does_not_block_a_correct_one() {
    let (mut w, patient, doctor, _, policy) = insured(&[("I10", 10_000), ("E11", 50_000)]);
    let record = w.write(&doctor, &patient, "E11.9");
    let wrong_item = w.claim(&patient, policy, record, 0).unwrap();
    assert_eq!(decision(&wrong_item), ("rejected", Some("proof_failed")));
    let right_item = w.claim(&patient, policy, record, 1).unwrap();
    assert_eq!(decision(&right_item), ("approved", None));
}

#[test]
fn another_patients_record_is_rejected() {
    let (mut w, patient, doctor, insurer) = setup();
    let other = w.patient(1);
    w.consent(&doctor, &other);
    let product = w.product(&insurer, &[("E11", 50_000)]);
    let policy = w.policy(&insurer, &patient, product);
    w.advance(60);
    let theirs = w.write(&doctor, &other, "E11.9");
    let result = w
        .claim_with(&patient, policy, theirs, 0, B64(vec![1; 256]))
        .unwrap();
    assert_eq!(decision(&result), ("rejected", Some("record_not_patients")));
}

#[test]
fn a_record_written_outside_the_term_is_rejected() {
    let (mut w, patient, doctor, insurer) = setup();
    let before = w.write(&doctor, &patient, "E11.9");
    w.advance(60);
    let product = w.product(&insurer, &[("E11", 50_000)]);
    let policy = w.policy(&insurer, &patient, product);
    w.advance(60);
    let result = w.claim(&patient, policy, before, 0).unwrap();
    assert_eq!(decision(&result), ("rejected", Some("record_outside_term")));
}

#[test]
fn a_policy_not_issued_or_past_its_term_is_not_active() {
    let (mut w, patient, doctor, insurer) = setup();
    let product = w.product(&insurer, &[("E11", 50_000)]);
    // Bought but never issued.
    let unissued = PolicyId::random(&mut w.rng);
    w.submit(
        &patient,
        Action::PurchasePolicy(PurchasePolicy {
            policy: unissued,
            product,
        }),
    )
    .unwrap();
    let record = w.write(&doctor, &patient, "E11.9");
    let result = w
        .claim_with(&patient, unissued, record, 0, B64(vec![1; 256]))
        .unwrap();
    assert_eq!(decision(&result), ("rejected", Some("policy_not_active")));

    // Issued, record inside the term, claimed after the term ended (another
    // product: the unissued purchase still holds this one).
    let product = w.product(&insurer, &[("E11", 50_000)]);
    let policy = w.policy(&insurer, &patient, product);
    w.advance(60);
    let doctor_again = w.consent(&doctor, &patient);
    let _ = doctor_again;
    let record = w.write(&doctor, &patient, "E11.9");
    let proof = w.proof(&patient, policy, record, 0);
    w.advance(366 * DAY);
    let result = w.claim_with(&patient, policy, record, 0, proof).unwrap();
    assert_eq!(decision(&result), ("rejected", Some("policy_not_active")));
}

#[test]
fn an_unknown_item_is_rejected() {
    let (mut w, patient, doctor, _, policy) = insured(&[("E11", 50_000)]);
    let record = w.write(&doctor, &patient, "E11.9");
    for item in [1, 64, u32::MAX] {
        let result = w
            .claim_with(&patient, policy, record, item, B64(vec![1; 256]))
            .unwrap();
        assert_eq!(decision(&result), ("rejected", Some("unknown_item")));
    }
}

#[test]
fn claims_are_refused_for_strangers_and_unknown_objects() {
    let (mut w, patient, doctor, insurer) = setup();
    let other = w.patient(1);
    let product = w.product(&insurer, &[("E11", 50_000)]);
    let policy = w.policy(&insurer, &patient, product);
    w.advance(60);
    let record = w.write(&doctor, &patient, "E11.9");
    let body = |w: &mut World, policy, record| {
        Action::FileClaim(FileClaim {
            claim: ClaimId::random(&mut w.rng),
            policy,
            record,
            item: 0,
            proof: B64(vec![1; 256]),
        })
    };
    let before = w.snapshot();

    let act = body(&mut w, policy, record);
    refused(w.submit(&other, act), "not_found");
    let unknown_policy = PolicyId::random(&mut w.rng);
    let act = body(&mut w, unknown_policy, record);
    refused(w.submit(&patient, act), "not_found");
    let unknown_record = RecordId::random(&mut w.rng);
    let act = body(&mut w, policy, unknown_record);
    refused(w.submit(&patient, act), "not_found");
    let act = body(&mut w, policy, record);
    refused(w.submit(&doctor, act), "wrong_role");
    let act = body(&mut w, policy, record);
    refused(w.submit(&insurer, act), "wrong_role");
    assert_eq!(before, w.snapshot(), "refusals write nothing");

    // A claim id is used once.
    let claim = ClaimId::random(&mut w.rng);
    let proof = w.proof(&patient, policy, record, 0);
    let file = FileClaim {
        claim,
        policy,
        record,
        item: 0,
        proof,
    };
    w.submit(&patient, Action::FileClaim(file.clone())).unwrap();
    refused(
        w.submit(&patient, Action::FileClaim(file)),
        "already_exists",
    );
}
