//! The insurance steps of [`Care`](super::Care): products, policies, claim proofs and claims.

use carechain_core::icd10::CoveredCode;
use carechain_core::ids::{B64, ClaimId, PolicyId, ProductId, RecordId};
use carechain_core::paillier::{self, Ciphertext};
use carechain_core::statement::*;
use serde_json::Value;

use super::{Actor, Care, Outcome};

impl Care {
    /// The insurer publishes a product covering `items` (code, payout).
    pub fn product(&mut self, insurer: &Actor, items: &[(&str, u64)]) -> ProductId {
        let product = ProductId::random(&mut self.rng);
        let items = items
            .iter()
            .map(|(code, payout)| CoveredItem {
                code: (*code).into(),
                payout: *payout,
            })
            .collect();
        let act = Action::PublishProduct(PublishProduct {
            product,
            name: "Test cover".into(),
            currency: "EUR".into(),
            premium: 1_000,
            term_days: 365,
            items,
        });
        self.submit(insurer, act).expect("publish");
        product
    }

    /// The patient buys, the insurer issues honestly; returns the policy id.
    pub fn policy(&mut self, insurer: &Actor, patient: &Actor, product: ProductId) -> PolicyId {
        let policy = PolicyId::random(&mut self.rng);
        let act = Action::PurchasePolicy(PurchasePolicy { policy, product });
        self.submit(patient, act).expect("purchase");
        let items = self.issue_items(patient, product);
        self.submit(insurer, Action::IssuePolicy(IssuePolicy { policy, items }))
            .expect("issue");
        policy
    }

    /// `E(M_i)` for each item of `product` under the patient's key.
    pub fn issue_items(&mut self, patient: &Actor, product: ProductId) -> Vec<B64> {
        let product = self.query("product", &[&product.to_string()]).unwrap();
        let codes: Vec<CoveredCode> = product["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["code"].as_str().unwrap().parse().unwrap())
            .collect();
        codes
            .into_iter()
            .map(|code| self.encrypt(patient, code.encode()))
            .collect()
    }

    /// The honest phone's proof for claiming `record` under item `item` of `policy`.
    pub fn proof(&mut self, patient: &Actor, policy: PolicyId, record: RecordId, item: u32) -> B64 {
        let sk = patient.paillier.clone().expect("patient");
        let pk = sk.public_key();
        let policy = self.query("policy", &[&policy.to_string()]).unwrap();
        let product = policy["product"].as_str().unwrap().to_owned();
        let product = self.query("product", &[&product]).unwrap();
        let record = self.query("record", &[&record.to_string()]).unwrap();
        let item_code: CoveredCode = product["items"][item as usize]["code"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let item_ct = policy["items"][item as usize].as_str().unwrap().to_owned();
        let diag_ct = match item_code {
            CoveredCode::Code(_) => record["code"].as_str().unwrap().to_owned(),
            CoveredCode::Category(_) => record["code_category"].as_str().unwrap().to_owned(),
        };
        if let Some(proof) = self.proofs.get(&(item_ct.clone(), diag_ct.clone())) {
            return proof.clone();
        }
        let difference = pk.sub(&ct(pk, &item_ct), &ct(pk, &diag_ct)).unwrap();
        let proof = match sk.prove_zero(&difference) {
            Ok(proof) => B64(proof.to_bytes()),
            // Not equal: the phone has no proof; the best forgery is ρ for another c.
            Err(_) => {
                let zero = pk.encrypt(0, &mut self.rng);
                B64(sk.prove_zero(&zero).unwrap().to_bytes())
            }
        };
        self.proofs.insert((item_ct, diag_ct), proof.clone());
        proof
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
        let claim = ClaimId::random(&mut self.rng);
        let act = Action::FileClaim(FileClaim {
            claim,
            policy,
            record,
            item,
            proof,
        });
        self.token(&patient.key, act)
    }

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

pub fn ct(pk: &paillier::PublicKey, b64: &str) -> Ciphertext {
    pk.ciphertext_from_bytes(B64::decode(b64).unwrap().as_bytes())
        .unwrap()
}

/// The decision of a claim result: decision and reason.
pub fn decision(result: &Value) -> (String, Option<String>) {
    (
        result["decision"]["decision"].as_str().unwrap().to_owned(),
        result["decision"]["reason"].as_str().map(str::to_owned),
    )
}
