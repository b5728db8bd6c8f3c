//! Property (rules 3): for any sequence of purchases and claims across
//! several policies and insurers, what is paid for a treatment never exceeds
//! its billed amount, each approval pays exactly `min(item payout, billed −
//! already paid)`, and a second active policy of a product is refused.
#![allow(dead_code, clippy::unwrap_used)]

mod support;

use carechain_core::ids::{PolicyId, ProductId};
use carechain_core::statement::{Action, Role, Treatment};
use carechain_testkit::statements::{purchase, visit};
use proptest::prelude::*;
use support::insurance::*;
use support::*;

/// One step of a sequence.
#[derive(Clone, Debug)]
enum Step {
    /// The patient buys product `n` (modulo the products) and its insurer issues it.
    Buy(usize),
    /// The patient claims record `r` under held policy `p` (modulo each), item `i`.
    Claim { p: usize, r: usize, i: u32 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..4).prop_map(Step::Buy),
        (0usize..8, 0usize..2, 0u32..2).prop_map(|(p, r, i)| Step::Claim { p, r, i }),
    ]
}

/// Runs `steps` on a fresh rules-3 world: two insurers, four products of
/// two items each with `payouts`, two treatments billed `billed`; what was
/// paid for each treatment.
fn run(payouts: &[u64; 8], billed: [u64; 2], steps: &[Step]) -> [u64; 2] {
    let (mut w, patient, doctor, first) = setup();
    let second = w.registered(Role::Insurer);
    let insurers = [&first, &second, &first, &second];
    let products: Vec<(ProductId, [u64; 2])> = (0..4)
        .map(|n| {
            let pay = [payouts[2 * n], payouts[2 * n + 1]];
            let items = [("E11", pay[0]), ("E11.9", pay[1])];
            (w.product(insurers[n], &items), pay)
        })
        .collect();
    w.advance(60);
    let records: Vec<_> = billed
        .iter()
        .map(|&amount| {
            let treatment = Treatment {
                billed: amount,
                ..visit(w.now())
            };
            w.write_treated(&doctor, &patient, "E11.9", treatment)
        })
        .collect();
    let mut held: Vec<(PolicyId, usize)> = Vec::new();
    let mut paid = [0u64; 2];
    let mut approved: Vec<(PolicyId, usize)> = Vec::new();
    for step in steps {
        match *step {
            Step::Buy(n) => {
                let (product, _) = products[n];
                if held.iter().any(|&(_, m)| m == n) {
                    let body = purchase(product, &mut w.rng);
                    w.refuses_as(
                        &patient,
                        Action::PurchasePolicy(body),
                        "policy_already_active",
                    );
                } else {
                    held.push((w.policy(insurers[n], &patient, product), n));
                }
            }
            Step::Claim { p, r, i } => {
                let Some(&(policy, n)) = held.get(p % held.len().max(1)) else {
                    continue;
                };
                let r = r % records.len();
                let result = w.claim(&patient, policy, records[r], i).unwrap();
                let remaining = billed[r] - paid[r];
                let expected = if approved.contains(&(policy, r)) {
                    ("rejected", Some("already_claimed"))
                } else if remaining == 0 {
                    ("rejected", Some("treatment_paid_in_full"))
                } else {
                    ("approved", None)
                };
                assert_eq!(decision(&result), expected, "{step:?}");
                if expected.0 == "approved" {
                    let payout = result["decision"]["payout"].as_u64().unwrap();
                    let item = products[n].1[i as usize];
                    assert_eq!(payout, item.min(remaining), "{step:?}");
                    paid[r] += payout;
                    approved.push((policy, r));
                }
            }
        }
        for r in 0..records.len() {
            assert!(paid[r] <= billed[r], "paid {} of {}", paid[r], billed[r]);
        }
    }
    paid
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn a_treatment_is_never_paid_more_than_its_billed_amount(
        payouts in proptest::array::uniform8(1u64..=60_000),
        billed in proptest::array::uniform2(1u64..=150_000),
        steps in proptest::collection::vec(step(), 1..12),
    ) {
        run(&payouts, billed, &steps);
    }
}

#[test]
fn two_insurers_pay_a_treatment_up_to_its_bill_and_no_further() {
    let steps = [
        Step::Buy(0),
        Step::Buy(1),
        Step::Buy(0),
        Step::Claim { p: 0, r: 0, i: 1 },
        Step::Claim { p: 1, r: 0, i: 0 },
        Step::Claim { p: 1, r: 0, i: 1 },
        Step::Buy(2),
        Step::Claim { p: 2, r: 0, i: 0 },
    ];
    run(
        &[30_000, 40_000, 50_000, 60_000, 1, 1, 1, 1],
        [70_000, 1],
        &steps,
    );
}
