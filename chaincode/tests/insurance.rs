//! Insurance around claims: payments, products, purchases and policy issue.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

mod support;

use carechain_core::ids::{B64, ClaimId, PolicyId, ProductId};
use carechain_core::statement::*;
use serde_json::Value;
use support::insurance::*;
use support::*;

/// A claim filed and approved: product, policy, record, proof.
fn approved_claim(s: &mut Setup) -> (ClaimId, Value) {
    let product = s.w.product(&s.insurer, &[("E11", 50_000)]);
    let policy = s.w.policy(&s.insurer, &s.patient, product);
    s.w.advance(60);
    let record = s.w.write(&s.doctor, &s.patient, "E11.9");
    let result = s.w.claim(&s.patient, policy, record, 0).unwrap();
    let id = result["claim"].as_str().unwrap().parse().unwrap();
    (id, result)
}

#[test]
fn the_insurer_marks_an_approved_claim_paid_once() {
    let mut s = cast();
    let (claim, _) = approved_claim(&mut s);
    let paid =
        s.w.submit(
            &s.insurer,
            Action::MarkPaid(MarkPaid {
                claim,
                reference: "SEPA-42".into(),
            }),
        )
        .unwrap();
    assert_eq!(paid["payment"]["reference"], "SEPA-42");
    assert_eq!(s.w.driver.last_event.as_ref().unwrap().0, "claim_paid");
    let again = s.w.submit(
        &s.insurer,
        Action::MarkPaid(MarkPaid {
            claim,
            reference: "SEPA-43".into(),
        }),
    );
    refused(again, "conflict");
}

#[test]
fn mark_paid_is_refused_for_others_rejections_and_bad_references() {
    let mut s = cast();
    let (claim, _) = approved_claim(&mut s);
    let other_insurer = s.w.registered(Role::Insurer);
    let pay = |claim, reference: &str| {
        Action::MarkPaid(MarkPaid {
            claim,
            reference: reference.into(),
        })
    };
    refused(s.w.submit(&other_insurer, pay(claim, "X")), "not_found");
    refused(s.w.submit(&s.patient, pay(claim, "X")), "wrong_role");
    refused(s.w.submit(&s.insurer, pay(claim, " ")), "invalid_payload");
    refused(
        s.w.submit(&s.insurer, pay(claim, &"x".repeat(129))),
        "invalid_payload",
    );
    let unknown = ClaimId::random(&mut s.w.rng);
    refused(s.w.submit(&s.insurer, pay(unknown, "X")), "not_found");

    // A rejected claim cannot be paid.
    let product = s.w.product(&s.insurer, &[("I10", 10_000)]);
    let policy = s.w.policy(&s.insurer, &s.patient, product);
    s.w.advance(60);
    let record = s.w.write(&s.doctor, &s.patient, "E11.9");
    let rejected = s.w.claim(&s.patient, policy, record, 0).unwrap();
    let rejected: ClaimId = rejected["claim"].as_str().unwrap().parse().unwrap();
    refused(s.w.submit(&s.insurer, pay(rejected, "X")), "conflict");
}

#[test]
fn claim_queries_show_decisions_to_both_parties() {
    let mut s = cast();
    let (claim, _) = approved_claim(&mut s);
    let for_patient =
        s.w.query("claims_for_patient", &[s.patient.id().as_str()])
            .unwrap();
    let for_insurer =
        s.w.query("claims_for_insurer", &[s.insurer.id().as_str()])
            .unwrap();
    assert_eq!(for_patient["items"], for_insurer["items"]);
    assert_eq!(for_patient["items"][0]["claim"], claim.to_string());
    let one = s.w.query("claim", &[&claim.to_string()]).unwrap();
    assert_eq!(one["decision"]["decision"], "approved");
}

fn publish(
    w: &mut World,
    insurer: &Actor,
    edit: impl FnOnce(&mut PublishProduct),
) -> Result<Value, carechain_chaincode::ChaincodeError> {
    let mut body = PublishProduct {
        product: ProductId::random(&mut w.rng),
        name: "Cover".into(),
        currency: "EUR".into(),
        premium: 100,
        term_days: 365,
        items: vec![CoveredItem {
            code: "E11".into(),
            payout: 1,
        }],
    };
    edit(&mut body);
    w.submit(insurer, Action::PublishProduct(body))
}

#[test]
fn products_are_validated() {
    let (mut w, patient, doctor, insurer) = setup();
    let ok = publish(&mut w, &insurer, |_| {}).unwrap();
    assert_eq!(ok["insurer"], insurer.id().as_str());
    assert_eq!(w.driver.last_event.as_ref().unwrap().0, "product_published");

    let before = w.snapshot();
    let item = |code: &str, payout| CoveredItem {
        code: code.into(),
        payout,
    };
    let cases: Vec<(&str, Box<dyn FnOnce(&mut PublishProduct)>)> = vec![
        ("empty name", Box::new(|p| p.name = "  ".into())),
        (
            "lower-case currency",
            Box::new(|p| p.currency = "eur".into()),
        ),
        ("long currency", Box::new(|p| p.currency = "EURO".into())),
        ("zero term", Box::new(|p| p.term_days = 0)),
        ("long term", Box::new(|p| p.term_days = 3661)),
        ("no items", Box::new(|p| p.items.clear())),
        ("bad code", Box::new(move |p| p.items = vec![item("E1", 5)])),
        (
            "duplicate item",
            Box::new(move |p| p.items = vec![item("E11", 5), item("e11", 6)]),
        ),
        (
            "zero payout",
            Box::new(move |p| p.items = vec![item("E11.9", 0)]),
        ),
        (
            "too many items",
            Box::new(move |p| {
                p.items = (0..65)
                    .map(|i| item(&format!("A{:02}", i % 100), 1))
                    .collect()
            }),
        ),
    ];
    for (what, edit) in cases {
        let err = refused(publish(&mut w, &insurer, edit), "invalid_payload");
        assert!(!err.message.is_empty(), "{what}");
    }
    refused(publish(&mut w, &doctor, |_| {}), "wrong_role");
    refused(publish(&mut w, &patient, |_| {}), "wrong_role");
    assert_eq!(before, w.snapshot());

    let product = ProductId::random(&mut w.rng);
    publish(&mut w, &insurer, |p| p.product = product).unwrap();
    refused(
        publish(&mut w, &insurer, |p| p.product = product),
        "already_exists",
    );
}

#[test]
fn purchases_are_validated() {
    let (mut w, patient, doctor, insurer) = setup();
    let product = w.product(&insurer, &[("E11", 50_000)]);
    let buy = |policy, product| Action::PurchasePolicy(PurchasePolicy { policy, product });
    let policy = PolicyId::random(&mut w.rng);
    let unknown = ProductId::random(&mut w.rng);
    let act = buy(policy, unknown);
    refused(w.submit(&patient, act), "not_found");
    let act = buy(policy, product);
    refused(w.submit(&doctor, act), "wrong_role");
    let act = buy(policy, product);
    let bought = w.submit(&patient, act).unwrap();
    assert_eq!(bought["status"], "purchased");
    assert_eq!(w.driver.last_event.as_ref().unwrap().0, "policy_purchased");
    let act = buy(policy, product);
    refused(w.submit(&patient, act), "already_exists");

    // A suspended insurer sells nothing.
    w.admin_submit(Action::SuspendIdentity(SuspendIdentity {
        actor: insurer.id(),
        reason: "licence withdrawn".into(),
    }))
    .unwrap();
    let fresh = PolicyId::random(&mut w.rng);
    let act = buy(fresh, product);
    refused(w.submit(&patient, act), "conflict");
}

#[test]
fn issuing_under_rules_1_carries_and_validates_ciphertexts() {
    let (mut w, patient, _, insurer) = setup_under(Some(1));
    let other_insurer = w.registered(Role::Insurer);
    let product = w.product(&insurer, &[("E11", 50_000), ("I10", 1_000)]);
    let policy = PolicyId::random(&mut w.rng);
    w.submit(
        &patient,
        Action::PurchasePolicy(PurchasePolicy { policy, product }),
    )
    .unwrap();
    let items = w.issue_items(&patient, product);
    let issue = |items: Vec<B64>| Action::IssuePolicy(IssuePolicy { policy, items });

    refused(w.submit(&other_insurer, issue(items.clone())), "not_found");
    refused(w.submit(&patient, issue(items.clone())), "wrong_role");
    refused(
        w.submit(&insurer, issue(items[..1].to_vec())),
        "invalid_payload",
    );
    let mut garbage = items.clone();
    garbage[1] = B64(vec![0; items[1].as_bytes().len()]);
    refused(w.submit(&insurer, issue(garbage)), "invalid_payload");
    let mut too_big = items.clone();
    too_big[0] = B64(vec![0xff; items[0].as_bytes().len()]);
    refused(w.submit(&insurer, issue(too_big)), "invalid_payload");
    let unknown = Action::IssuePolicy(IssuePolicy {
        policy: PolicyId::random(&mut w.rng),
        items: items.clone(),
    });
    refused(w.submit(&insurer, unknown), "not_found");

    let issued = w.submit(&insurer, issue(items.clone())).unwrap();
    assert_eq!(issued["status"], "issued");
    assert_eq!(
        issued["ends_at"].as_i64().unwrap() - issued["starts_at"].as_i64().unwrap(),
        365 * DAY
    );
    let (name, event) = w.driver.last_event.clone().unwrap();
    assert_eq!(name, "policy_issued");
    assert_eq!(event["patient"], patient.id().as_str());
    refused(w.submit(&insurer, issue(items)), "conflict");
}
