//! A full scenario through the HTTP API: every object of every kind, owned by
//! "A" actors, plus "B" actors of each role who own nothing of A's.
#![allow(dead_code)]

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use serde_json::Value;

use carechain_core::envelope::{self, DataKey};
use carechain_core::icd10::{CoveredCode, Icd10Code};
use carechain_core::ids::{ActorId, B64, ClaimId, PolicyId, ProductId, RecordId, RequestId};
use carechain_core::paillier::Ciphertext;
use carechain_core::statement::*;

use crate::support::{Actor, TestApp};

/// Everything the scenario made.
pub struct Scenario {
    pub doctor: Actor,
    pub insurer: Actor,
    pub patient: Actor,
    pub other_doctor: Actor,
    pub other_insurer: Actor,
    pub other_patient: Actor,
    pub request: RequestId,
    pub record: RecordId,
    pub product: ProductId,
    pub policy: PolicyId,
    pub claim: ClaimId,
}

#[track_caller]
pub fn ok(reply: &crate::support::Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{reply:?}");
}

pub fn ct(pk: &carechain_core::paillier::PublicKey, b64: &str) -> Ciphertext {
    pk.ciphertext_from_bytes(B64::decode(b64).unwrap().as_bytes())
        .unwrap()
}

impl<S, B> TestApp<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// The doctor asks the patient for read and write on everything.
    pub async fn ask(&mut self, doctor: &Actor, patient: &Actor) -> RequestId {
        let request = RequestId::random(&mut self.rng);
        let act = Action::AccessRequest(AccessRequest {
            request,
            patient: patient.id(),
            actions: vec![AccessAction::Read, AccessAction::Write],
            scope: Scope::All,
            purpose: PurposeOfUse::Treat,
            duration_secs: 30 * 86_400,
        });
        ok(
            &self.post_signed("/v1/requests", doctor, act).await,
            StatusCode::CREATED,
        );
        request
    }

    /// The patient grants everything asked, for a week (no records yet).
    pub fn grant_act(&self, request: RequestId) -> Action {
        Action::Grant(Grant {
            request,
            actions: vec![AccessAction::Read, AccessAction::Write],
            scope: Scope::All,
            expires_at: carechain_api::db::now() + 7 * 86_400,
            keys: vec![],
        })
    }

    /// The doctor writes a record with diagnosis `code`, keys for the readers the relay lists.
    pub async fn write_record(&mut self, doctor: &Actor, patient: &Actor, code: &str) -> RecordId {
        let readers = self
            .get(
                &format!("/v1/patients/{}/readers?category=general", patient.id()),
                &doctor.token,
            )
            .await;
        ok(&readers, StatusCode::OK);
        let record = RecordId::random(&mut self.rng);
        let code: Icd10Code = code.parse().unwrap();
        let data_key = DataKey::generate(&mut self.rng);
        let sealed = envelope::seal(
            b"{\"resourceType\":\"Condition\"}",
            &data_key,
            &patient.id(),
            &record,
            &mut self.rng,
        );
        let keys = readers
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let actor: ActorId = r["actor"].as_str().unwrap().parse().unwrap();
                let key = B64::decode(r["hpke_key"].as_str().unwrap()).unwrap();
                let key = envelope::HpkePublicKey::from_bytes(key.as_bytes()).unwrap();
                let wrapped = data_key
                    .wrap_for(&key, &patient.id(), &record, &mut self.rng)
                    .unwrap();
                ReaderKey {
                    reader: actor,
                    enc: wrapped.enc,
                    ciphertext: wrapped.ciphertext,
                }
            })
            .collect();
        let pk = patient.paillier.unwrap().public_key();
        let act = Action::WriteRecord(WriteRecord {
            record,
            patient: patient.id(),
            category: RecordCategory::General,
            nonce: sealed.nonce,
            payload: sealed.ciphertext,
            keys,
            code: B64(pk.encrypt(code.encode(), &mut self.rng).to_bytes()),
            code_category: B64(pk
                .encrypt(code.category().encode(), &mut self.rng)
                .to_bytes()),
        });
        ok(
            &self.post_signed("/v1/records", doctor, act).await,
            StatusCode::CREATED,
        );
        record
    }

    /// A fresh product `name` covering `code`, and the action publishing it.
    pub fn product_act(&mut self, name: &str, code: &str) -> (ProductId, Action) {
        let product = ProductId::random(&mut self.rng);
        let act = Action::PublishProduct(PublishProduct {
            product,
            name: name.into(),
            currency: "EUR".into(),
            premium: 1_000,
            term_days: 365,
            items: vec![CoveredItem {
                code: code.into(),
                payout: 50_000,
            }],
        });
        (product, act)
    }

    pub async fn publish(&mut self, insurer: &Actor, code: &str) -> ProductId {
        let (product, act) = self.product_act("Cover", code);
        ok(
            &self.post_signed("/v1/products", insurer, act).await,
            StatusCode::CREATED,
        );
        product
    }

    pub async fn buy(&mut self, patient: &Actor, product: ProductId) -> PolicyId {
        let policy = PolicyId::random(&mut self.rng);
        let act = Action::PurchasePolicy(PurchasePolicy { policy, product });
        ok(
            &self.post_signed("/v1/policies", patient, act).await,
            StatusCode::CREATED,
        );
        policy
    }

    /// The insurer's honest `issue_policy` for a patient's purchase of `product`.
    pub async fn issue_act(
        &mut self,
        insurer: &Actor,
        patient: &Actor,
        policy: PolicyId,
        product: ProductId,
    ) -> Action {
        let product = self
            .get(&format!("/v1/products/{product}"), &insurer.token)
            .await;
        ok(&product, StatusCode::OK);
        let pk = patient.paillier.unwrap().public_key().clone();
        let items = product.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let code: CoveredCode = item["code"].as_str().unwrap().parse().unwrap();
                B64(pk.encrypt(code.encode(), &mut self.rng).to_bytes())
            })
            .collect();
        Action::IssuePolicy(IssuePolicy { policy, items })
    }

    /// The phone's claim of item 0 of `policy` with `record`.
    pub async fn claim_act(
        &mut self,
        patient: &Actor,
        policy: PolicyId,
        record: RecordId,
    ) -> (ClaimId, Action) {
        let sk = patient.paillier.unwrap();
        let pk = sk.public_key();
        let policy_view = self
            .get(&format!("/v1/policies/{policy}"), &patient.token)
            .await;
        ok(&policy_view, StatusCode::OK);
        let record_view = self
            .get(&format!("/v1/records/{record}"), &patient.token)
            .await;
        ok(&record_view, StatusCode::OK);
        let item_ct = ct(pk, policy_view.body["items"][0].as_str().unwrap());
        let diag_ct = ct(pk, record_view.body["record"]["code"].as_str().unwrap());
        let proof = sk.prove_zero(&pk.sub(&item_ct, &diag_ct).unwrap()).unwrap();
        let claim = ClaimId::random(&mut self.rng);
        (
            claim,
            Action::FileClaim(FileClaim {
                claim,
                policy,
                record,
                item: 0,
                proof: B64(proof.to_bytes()),
            }),
        )
    }

    /// Builds the whole scenario, asserting every step succeeds.
    pub async fn scenario(&mut self) -> Scenario {
        let doctor = self.approved(Role::Doctor).await;
        let insurer = self.approved(Role::Insurer).await;
        let patient = self.patient(0).await;
        let other_doctor = self.approved(Role::Doctor).await;
        let other_insurer = self.approved(Role::Insurer).await;
        let other_patient = self.patient(1).await;

        let request = self.ask(&doctor, &patient).await;
        let act = self.grant_act(request);
        ok(
            &self
                .post_signed(&format!("/v1/requests/{request}/grant"), &patient, act)
                .await,
            StatusCode::OK,
        );
        let product = self.publish(&insurer, "E11.9").await;
        let policy = self.buy(&patient, product).await;
        let act = self.issue_act(&insurer, &patient, policy, product).await;
        ok(
            &self
                .post_signed(&format!("/v1/policies/{policy}/issue"), &insurer, act)
                .await,
            StatusCode::OK,
        );
        // Written after the issue, so inside the policy term.
        let record = self.write_record(&doctor, &patient, "E11.9").await;
        let (claim, act) = self.claim_act(&patient, policy, record).await;
        let reply = self.post_signed("/v1/claims", &patient, act).await;
        ok(&reply, StatusCode::CREATED);
        assert_eq!(
            reply.body["result"]["decision"]["decision"],
            Value::from("approved"),
            "{reply:?}"
        );
        Scenario {
            doctor,
            insurer,
            patient,
            other_doctor,
            other_insurer,
            other_patient,
            request,
            record,
            product,
            policy,
            claim,
        }
    }
}
