//! Insurance steps: products, purchases accepted or declined honestly (no
//! ciphertexts under rules 2, the insurer's `E(M_i)` under rules ≤ 1), claim
//! proofs found by the protocol's prover, and claims.

use carechain_core::icd10::CoveredCode;
use carechain_core::ids::{B64, PolicyId, ProductId, RecordId};
use carechain_core::ledger::Query;
use carechain_core::protocol::claim::{Diagnosis, item_ciphertext};
use carechain_core::statement::{Action, CoveredItem, IssuePolicy};

use super::World;
use crate::driver::{Driver, Outcome};
use crate::{Actor, statements};

/// The rules from which an issue carries no ciphertexts.
const COMPUTED_ITEMS_RULES: u32 = 2;

impl<D: Driver> World<D> {
    /// The insurer publishes a product covering `items` (code, payout).
    pub fn product(&mut self, insurer: &Actor, items: &[(&str, u64)]) -> ProductId {
        let body = statements::product(items, &mut self.rng);
        let product = body.product;
        self.submit(insurer, Action::PublishProduct(body))
            .expect("publish");
        product
    }

    /// The covered items of `product`, as the ledger holds them.
    pub fn covered_items(&mut self, product: ProductId) -> Vec<CoveredItem> {
        let product = self
            .ask(&Query::Product {
                product: product.to_string(),
            })
            .expect("product");
        serde_json::from_value(product["items"].clone()).unwrap()
    }

    /// The patient buys `product`; returns the policy id (awaiting the insurer).
    pub fn purchase(&mut self, patient: &Actor, product: ProductId) -> PolicyId {
        let purchase = statements::purchase(product, &mut self.rng);
        let policy = purchase.policy;
        self.submit(patient, Action::PurchasePolicy(purchase))
            .expect("purchase");
        policy
    }

    /// The insurer's honest issue of the patient's purchase `policy` of
    /// `product`: no ciphertexts under rules 2, `E(M_i)` under rules ≤ 1.
    pub fn issue(
        &mut self,
        insurer: &Actor,
        patient: &Actor,
        policy: PolicyId,
        product: ProductId,
    ) -> Outcome {
        let issue = if self.rules >= COMPUTED_ITEMS_RULES {
            statements::accept(policy)
        } else {
            let items = self.issue_items(patient, product);
            IssuePolicy { policy, items }
        };
        self.submit(insurer, Action::IssuePolicy(issue))
    }

    /// The insurer declines purchase `policy` with `reason` (rules 2).
    pub fn decline(&mut self, insurer: &Actor, policy: PolicyId, reason: &str) -> Outcome {
        let decline = statements::decline(policy, reason);
        self.submit(insurer, Action::DeclinePolicy(decline))
    }

    /// The patient buys, the insurer issues honestly; returns the policy id.
    pub fn policy(&mut self, insurer: &Actor, patient: &Actor, product: ProductId) -> PolicyId {
        let policy = self.purchase(patient, product);
        self.issue(insurer, patient, policy, product)
            .expect("issue");
        policy
    }

    /// `E(M_i)` for each item of `product` under the patient's key.
    pub fn issue_items(&mut self, patient: &Actor, product: ProductId) -> Vec<B64> {
        let items = self.covered_items(product);
        let fresh = statements::policy_items(patient, &items, &mut self.rng);
        items
            .iter()
            .zip(fresh)
            .map(|(item, ct)| {
                let code: CoveredCode = item.code.parse().unwrap();
                self.reuse(patient, code.encode(), ct)
            })
            .collect()
    }

    /// The honest phone's proof for claiming `record` under item `item` of `policy`.
    pub fn proof(&mut self, patient: &Actor, policy: PolicyId, record: RecordId, item: u32) -> B64 {
        let policy = self
            .ask(&Query::Policy {
                policy: policy.to_string(),
            })
            .expect("policy");
        let product: ProductId = policy["product"].as_str().unwrap().parse().unwrap();
        let items = self.covered_items(product);
        let policy_items: Vec<B64> = serde_json::from_value(policy["items"].clone()).unwrap();
        let record = self
            .ask(&Query::Record {
                record: record.to_string(),
            })
            .expect("record");
        let code: B64 = serde_json::from_value(record["code"].clone()).unwrap();
        let category: B64 = serde_json::from_value(record["code_category"].clone()).unwrap();
        let at = item as usize;
        let covered = items
            .get(at)
            .and_then(|c| c.code.parse::<CoveredCode>().ok());
        // The E(M_i) the proof is for: the policy's (rules ≤ 1) or the computed one.
        let expected = match (&covered, policy_items.is_empty()) {
            (Some(covered), true) => {
                let pk = patient.paillier_public();
                Some(B64(item_ciphertext(pk, covered).to_bytes()))
            }
            (Some(_), false) => policy_items.get(at).cloned(),
            (None, _) => None,
        };
        let key = match (expected, &covered) {
            (Some(ct), Some(covered)) => {
                let diagnosis = match covered {
                    CoveredCode::Category(_) => category.clone(),
                    CoveredCode::Code(_) => code.clone(),
                };
                Some((ct, diagnosis))
            }
            _ => None,
        };
        if let Some(proof) = key.as_ref().and_then(|k| self.proofs.get(k)) {
            return proof.clone();
        }
        let diagnosis = Diagnosis {
            code: &code,
            category: &category,
        };
        let proof = statements::claim_proof(
            patient,
            item,
            &items,
            &policy_items,
            diagnosis,
            &mut self.rng,
        );
        if let Some(key) = key {
            self.proofs.insert(key, proof.clone());
        }
        proof
    }

    /// The patient claims `record` under item `item` of `policy` with `proof` as it is.
    pub fn claim_with(
        &mut self,
        patient: &Actor,
        policy: PolicyId,
        record: RecordId,
        item: u32,
        proof: B64,
    ) -> Outcome {
        let claim = statements::claim(policy, record, item, proof, &mut self.rng);
        self.submit(patient, Action::FileClaim(claim))
    }

    /// The patient's signed claim of `record` under item `item` of `policy`.
    pub fn claim_token(
        &mut self,
        patient: &Actor,
        policy: PolicyId,
        record: RecordId,
        item: u32,
    ) -> String {
        let proof = self.proof(patient, policy, record, item);
        let claim = statements::claim(policy, record, item, proof, &mut self.rng);
        self.sign(&patient.key, Action::FileClaim(claim))
    }

    /// The patient claims `record` under item `item` of `policy`.
    pub fn claim(
        &mut self,
        patient: &Actor,
        policy: PolicyId,
        record: RecordId,
        item: u32,
    ) -> Outcome {
        let token = self.claim_token(patient, policy, record, item);
        self.submit_token(&token)
    }
}
