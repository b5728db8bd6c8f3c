//! A full scenario through the HTTP API: every object of every kind, owned by
//! "A" actors, plus "B" actors of each role who own nothing of A's. Records,
//! policy items and claim proofs come from `carechain_core::protocol`, as the
//! phone and the staff client make them.
#![allow(dead_code)]

use actix_web::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use rand_chacha::ChaCha20Rng;

use carechain_core::envelope::WrappedKey;
use carechain_core::icd10::Icd10Code;
use carechain_core::ids::{B64, ClaimId, PolicyId, ProductId, RecordId, RequestId};
use carechain_core::ledger::{ClaimContext, GrantContext, Reader, WrappedKeyState};
use carechain_core::protocol::claim::{Diagnosis, find_claim_item};
use carechain_core::protocol::grant::rewrap_keys;
use carechain_core::protocol::write::{RecordWrite, reader_key};
use carechain_core::statement::*;

use crate::support::{Actor, RelayApp, Reply, TestApp};

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
pub fn ok(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{reply:?}");
}

/// The body of a `200 OK` reply as `T`.
#[track_caller]
pub fn typed<T: DeserializeOwned>(reply: Reply) -> T {
    ok(&reply, StatusCode::OK);
    serde_json::from_value(reply.body).unwrap()
}

/// A doctor's request for `actions` on all of `patient`'s records, for `days`.
pub fn access_request(
    request: RequestId,
    patient: &Actor,
    actions: Vec<AccessAction>,
    days: i64,
) -> Action {
    Action::AccessRequest(AccessRequest {
        request,
        patient: patient.id(),
        actions,
        scope: Scope::All,
        purpose: PurposeOfUse::Treat,
        duration_secs: days * 86_400,
    })
}

/// The patient's grant of `actions` on everything for `days`, carrying `keys`.
pub fn grant(
    request: RequestId,
    actions: Vec<AccessAction>,
    days: i64,
    keys: Vec<RecordKey>,
) -> Action {
    Action::Grant(Grant {
        request,
        actions,
        scope: Scope::All,
        expires_at: carechain_api::db::now() + days * 86_400,
        keys,
    })
}

/// A data key as the ledger holds it, ready to unwrap.
pub fn wrapped(key: &WrappedKeyState) -> WrappedKey {
    WrappedKey {
        enc: key.enc.clone(),
        ciphertext: key.ciphertext.clone(),
    }
}

/// The phone's claim from a claim context alone: the covered item the
/// record's diagnosis equals, with its proof.
pub fn claim_from(
    context: &ClaimContext,
    patient: &Actor,
    rng: &mut ChaCha20Rng,
) -> (ClaimId, Action) {
    let diagnosis = Diagnosis {
        code: &context.record.code,
        category: &context.record.code_category,
    };
    let sk = patient.paillier.unwrap();
    let items = &context.product.items;
    let (item, proof) = find_claim_item(sk, items, &context.policy.items, diagnosis)
        .unwrap()
        .expect("the record's diagnosis is a covered item");
    let claim = ClaimId::random(rng);
    let act = Action::FileClaim(FileClaim {
        claim,
        policy: context.policy.policy,
        record: context.record.record,
        item,
        proof: B64(proof),
    });
    (claim, act)
}

impl<S: RelayApp> TestApp<S> {
    /// Signs `act` as `actor`, POSTs it to `path` and asserts `status`.
    pub async fn submit(&mut self, path: &str, actor: &Actor, act: Action, status: StatusCode) {
        ok(&self.post_signed(path, actor, act).await, status);
    }

    /// GETs `path` with `token`, asserting `200 OK`.
    pub async fn get_ok(&self, path: &str, token: &str) -> Reply {
        let reply = self.get(path, token).await;
        ok(&reply, StatusCode::OK);
        reply
    }

    /// How many items the list at `path` shows the holder of `token` (asserting `200 OK`).
    pub async fn count(&self, path: &str, token: &str) -> usize {
        let reply = self.get_ok(path, token).await;
        reply.body["items"].as_array().unwrap().len()
    }

    /// The admin's audit trail: asserts it holds each of `kinds` of action
    /// and metadata only (no payload, no proof).
    pub async fn assert_audit_holds(&self, kinds: &[&str]) {
        let audit = self.get_ok("/v1/admin/audit", &self.admin.token).await;
        let found: Vec<&str> = audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["action"].as_str().unwrap())
            .collect();
        for kind in kinds {
            assert!(found.contains(kind), "{kind} missing from {found:?}");
        }
        let text = audit.body.to_string();
        assert!(!text.contains("payload") && !text.contains("proof"));
    }

    /// GETs `path` with `token` and reads the `200 OK` body as `T`.
    pub async fn get_typed<T: DeserializeOwned>(&self, path: &str, token: &str) -> T {
        typed(self.get(path, token).await)
    }

    /// The doctor asks the patient for read and write on everything.
    pub async fn ask(&mut self, doctor: &Actor, patient: &Actor) -> RequestId {
        let request = RequestId::random(&mut self.rng);
        let actions = vec![AccessAction::Read, AccessAction::Write];
        let act = access_request(request, patient, actions, 30);
        self.submit("/v1/requests", doctor, act, StatusCode::CREATED)
            .await;
        request
    }

    /// A fresh request to read all of `patient`'s records for a day.
    pub fn read_request(&mut self, patient: &Actor) -> Action {
        let request = RequestId::random(&mut self.rng);
        access_request(request, patient, vec![AccessAction::Read], 1)
    }

    /// An access request whose reply is returned, not asserted.
    pub async fn ask_raw(&mut self, doctor: &Actor, patient: &Actor) -> Reply {
        let act = self.read_request(patient);
        self.post_signed("/v1/requests", doctor, act).await
    }

    /// The patient grants everything asked, for a week (no records yet).
    pub fn grant_act(&self, request: RequestId) -> Action {
        let actions = vec![AccessAction::Read, AccessAction::Write];
        grant(request, actions, 7, vec![])
    }

    /// The doctor writes a record with diagnosis `code`, keys for the readers the relay lists.
    pub async fn write_record(&mut self, doctor: &Actor, patient: &Actor, code: &str) -> RecordId {
        let path = format!("/v1/patients/{}/readers?category=general", patient.id());
        let readers: Vec<Reader> = self.get_typed(&path, &doctor.token).await;
        let readers: Vec<_> = readers.into_iter().map(|r| (r.actor, r.hpke_key)).collect();
        let code: Icd10Code = code.parse().unwrap();
        let write = RecordWrite {
            record: RecordId::random(&mut self.rng),
            patient: &patient.id(),
            category: RecordCategory::General,
            payload: b"{\"resourceType\":\"Condition\"}",
            code: &code,
            paillier_key: patient.paillier.unwrap().public_key(),
            readers: &readers,
            treatment: Treatment {
                date_of_service: carechain_api::db::now(),
                billed: 100_000,
                currency: "EUR".into(),
            },
        }
        .compose(&mut self.rng)
        .unwrap();
        let record = write.record;
        let act = Action::WriteRecord(write);
        self.submit("/v1/records", doctor, act, StatusCode::CREATED)
            .await;
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
        self.submit("/v1/products", insurer, act, StatusCode::CREATED)
            .await;
        product
    }

    /// A fresh policy of `product` for the signer, and the action buying it.
    pub fn purchase_act(&mut self, product: ProductId) -> (PolicyId, Action) {
        let policy = PolicyId::random(&mut self.rng);
        (
            policy,
            Action::PurchasePolicy(PurchasePolicy { policy, product }),
        )
    }

    pub async fn buy(&mut self, patient: &Actor, product: ProductId) -> PolicyId {
        let (policy, act) = self.purchase_act(product);
        self.submit("/v1/policies", patient, act, StatusCode::CREATED)
            .await;
        policy
    }

    /// The insurer's acceptance of a purchase: no ciphertexts (rules 2).
    pub fn issue_act(policy: PolicyId) -> Action {
        Action::IssuePolicy(IssuePolicy {
            policy,
            items: Vec::new(),
        })
    }

    /// The phone's claim on `policy` with `record`, from its claim context.
    pub async fn claim_act(
        &mut self,
        patient: &Actor,
        policy: PolicyId,
        record: RecordId,
    ) -> (ClaimId, Action) {
        let path = format!("/v1/policies/{policy}/claim-context?record={record}");
        let context: ClaimContext = self.get_typed(&path, &patient.token).await;
        claim_from(&context, patient, &mut self.rng)
    }

    /// The patient's grant of read access on everything to `request`'s
    /// doctor for a day, with the data keys of its grant context re-wrapped.
    pub fn grant_with_keys(&mut self, patient: &Actor, context: &GrantContext) -> Action {
        let grantee = reader_key(&context.grantee.actor, &context.grantee.hpke_key).unwrap();
        let own = context.keys.iter().map(|k| (k.record, wrapped(&k.key)));
        let keys = rewrap_keys(&patient.hpke, &patient.id(), &grantee, own, &mut self.rng);
        let request = context.request.request;
        grant(request, vec![AccessAction::Read], 1, keys.unwrap())
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
        let path = format!("/v1/requests/{request}/grant");
        self.submit(&path, &patient, act, StatusCode::OK).await;
        let product = self.publish(&insurer, "E11.9").await;
        let policy = self.buy(&patient, product).await;
        let act = Self::issue_act(policy);
        let path = format!("/v1/policies/{policy}/issue");
        self.submit(&path, &insurer, act, StatusCode::OK).await;
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
