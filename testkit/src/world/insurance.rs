//! Insurance steps: products, policies issued honestly, claim proofs found
//! by the protocol's prover, and claims.

use carechain_core::icd10::CoveredCode;
use carechain_core::ids::{B64, PolicyId, ProductId, RecordId};
use carechain_core::ledger::Query;
use carechain_core::protocol::claim::Diagnosis;
use carechain_core::statement::{Action, CoveredItem, IssuePolicy};

use super::World;
use crate::driver::{Driver, Outcome};
use crate::{Actor, statements};

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

    /// The patient buys, the insurer issues honestly; returns the policy id.
    pub fn policy(&mut self, insurer: &Actor, patient: &Actor, product: ProductId) -> PolicyId {
        let purchase = statements::purchase(product, &mut self.rng);
        let policy = purchase.policy;
        self.submit(patient, Action::PurchasePolicy(purchase))
            .expect("purchase");
        let items = self.issue_items(patient, product);
        let issue = IssuePolicy { policy, items };
        self.submit(insurer, Action::IssuePolicy(issue))
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
        let cached = (policy_items.get(at).cloned(), items.get(at));
        let key = match cached {
            (Some(ct), Some(covered)) => {
                let diagnosis = match covered.code.parse::<CoveredCode>() {
                    Ok(CoveredCode::Category(_)) => category.clone(),
                    _ => code.clone(),
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
