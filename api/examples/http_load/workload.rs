//! The measured workloads, built the same way in both worlds: grants (each
//! of 64 patients grants doctors' access requests submitted in set-up) and
//! claims (patients with 3072-bit Paillier keys claim distinct records under
//! an issued policy; every decision must be `approved`). Every statement is
//! signed here, before the clock starts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use carechain_core::icd10::Icd10Code;
use carechain_core::ids::{ActorId, B64, ClaimId, PolicyId, ProductId, RecordId, RequestId};
use carechain_core::paillier::SecretKey;
use carechain_core::protocol::claim::{Diagnosis, find_claim_item};
use carechain_core::protocol::write::{EncryptedDiagnosis, RecordWrite};
use carechain_core::statement::*;

use crate::client::{Step, setup, split};
use crate::world::{Actor, World};

/// The diagnosis every claim is about, and the product's covered item.
const CODE: &str = "E11.9";

/// Submits `n` access requests of the doctor (set-up) and returns the
/// patients' grants of them: stream `s` holds patient `s`'s grants.
pub async fn grants(world: &mut World, patients: &[Actor], n: usize) -> Vec<Vec<Step>> {
    let doctor = world.doctor.copy();
    let mut requests = Vec::with_capacity(n);
    let mut streams: Vec<Vec<Step>> = (0..patients.len()).map(|_| Vec::new()).collect();
    for i in 0..n {
        let s = i % patients.len();
        let (request, step) = ask(world, &doctor, &patients[s]);
        requests.push(step);
        let act = Action::Grant(Grant {
            request,
            actions: vec![AccessAction::Read, AccessAction::Write],
            scope: Scope::All,
            expires_at: carechain_api::db::now() + 86_400,
            keys: Vec::new(),
        });
        let path = format!("/v1/requests/{request}/grant");
        streams[s].push(world.step(&patients[s], path, act, 200));
    }
    setup(&world.target, requests).await;
    streams
}

/// The doctor's access request for read and write on everything.
fn ask(world: &mut World, doctor: &Actor, patient: &Actor) -> (RequestId, Step) {
    let request = RequestId::random(&mut world.rng);
    let act = Action::AccessRequest(AccessRequest {
        request,
        patient: patient.id(),
        actions: vec![AccessAction::Read, AccessAction::Write],
        scope: Scope::All,
        purpose: PurposeOfUse::Treat,
        duration_secs: 30 * 86_400,
    });
    (request, world.step(doctor, "/v1/requests".into(), act, 201))
}

/// Ciphertexts reused per (key, plaintext, use), as the contract bench does:
/// the contract still verifies every claim's proof in full.
#[derive(Default)]
struct Cache {
    ciphertexts: HashMap<(usize, u64, &'static str), B64>,
    proofs: HashMap<usize, B64>,
}

impl Cache {
    fn encrypt(
        &mut self,
        world: &mut World,
        sk: &Arc<SecretKey>,
        m: u64,
        what: &'static str,
    ) -> B64 {
        let slot = (Arc::as_ptr(sk) as usize, m, what);
        if let Some(ct) = self.ciphertexts.get(&slot) {
            return ct.clone();
        }
        let ct = B64(sk.public_key().encrypt(m, &mut world.rng).to_bytes());
        self.ciphertexts.insert(slot, ct.clone());
        ct
    }
}

/// Sets up `patients` for claims (the doctor's access if `consent`, a
/// product, an issued policy each, `n` records) and returns the `n` claims
/// split over `submitters` streams.
pub async fn claims(
    world: &mut World,
    patients: &[Actor],
    n: usize,
    submitters: usize,
    consent: bool,
) -> Vec<Vec<Step>> {
    let doctor = world.doctor.copy();
    let insurer = world.insurer.copy();
    let mut cache = Cache::default();

    let product = ProductId::random(&mut world.rng);
    let act = Action::PublishProduct(PublishProduct {
        product,
        name: "Cover".into(),
        currency: "EUR".into(),
        premium: 1_000,
        term_days: 365,
        items: vec![CoveredItem {
            code: CODE.into(),
            payout: 50_000,
        }],
    });
    let publish = world.step(&insurer, "/v1/products".into(), act, 201);
    setup(&world.target, vec![publish]).await;

    // Consent: request, then grant (no records yet, so no keys to re-wrap).
    let mut asks = Vec::new();
    let mut answers = Vec::new();
    let mut purchases = Vec::new();
    let mut policies = Vec::new();
    for patient in patients {
        let (request, step) = ask(world, &doctor, patient);
        asks.push(step);
        let act = Action::Grant(Grant {
            request,
            actions: vec![AccessAction::Read, AccessAction::Write],
            scope: Scope::All,
            expires_at: carechain_api::db::now() + 7 * 86_400,
            keys: Vec::new(),
        });
        let path = format!("/v1/requests/{request}/grant");
        answers.push(world.step(patient, path, act, 200));
        let policy = PolicyId::random(&mut world.rng);
        let act = Action::PurchasePolicy(PurchasePolicy { policy, product });
        purchases.push(world.step(patient, "/v1/policies".into(), act, 201));
        policies.push(policy);
    }
    // Later rounds keep the first grant (a new one would have to re-wrap the records' keys).
    if consent {
        setup(&world.target, asks).await;
        setup(&world.target, answers).await;
    }
    setup(&world.target, purchases).await;

    let mut issues = Vec::new();
    for &policy in &policies {
        // Rules 2: an acceptance carries no ciphertexts.
        let items = Vec::new();
        let act = Action::IssuePolicy(IssuePolicy { policy, items });
        issues.push(world.step(&insurer, format!("/v1/policies/{policy}/issue"), act, 200));
    }
    setup(&world.target, issues).await;
    // Records must be dated after the policies' start.
    actix_web::rt::time::sleep(Duration::from_millis(1_100)).await;

    let code: Icd10Code = CODE.parse().unwrap();
    let mut writes = Vec::with_capacity(n);
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let p = i % patients.len();
        let patient = &patients[p];
        let sk = patient.paillier.clone().unwrap();
        // The readers: the patient and the doctor holding the grant.
        let readers: Vec<(ActorId, B64)> = [patient, &doctor]
            .iter()
            .map(|reader| (reader.id(), B64(reader.hpke.public_key().to_bytes())))
            .collect();
        let diagnosis = EncryptedDiagnosis {
            code: cache.encrypt(world, &sk, code.encode(), "code"),
            category: cache.encrypt(world, &sk, code.category().encode(), "category"),
        };
        let write = RecordWrite {
            record: RecordId::random(&mut world.rng),
            patient: &patient.id(),
            category: RecordCategory::General,
            payload: b"{\"resourceType\":\"Condition\"}",
            code: &code,
            paillier_key: sk.public_key(),
            readers: &readers,
            treatment: Treatment {
                date_of_service: carechain_api::db::now(),
                billed: 100_000,
                currency: "EUR".into(),
            },
        }
        .compose_with(diagnosis, &mut world.rng)
        .expect("compose the record write");
        let record = write.record;
        let act = Action::WriteRecord(write);
        writes.push(world.step(&doctor, "/v1/records".into(), act, 201));
        pending.push((p, record));
    }
    setup(&world.target, writes).await;

    let mut claims = Vec::with_capacity(n);
    for (p, record) in pending {
        let patient = &patients[p];
        let sk = patient.paillier.clone().unwrap();
        let proof = match cache.proofs.get(&(Arc::as_ptr(&sk) as usize)) {
            Some(proof) => proof.clone(),
            None => {
                let diagnosis = Diagnosis {
                    code: &cache.encrypt(world, &sk, code.encode(), "code"),
                    category: &cache.encrypt(world, &sk, code.category().encode(), "category"),
                };
                let covered = [CoveredItem {
                    code: CODE.into(),
                    payout: 50_000,
                }];
                let (_, proof) = find_claim_item(&sk, &covered, &[], diagnosis)
                    .unwrap()
                    .expect("the record's diagnosis is the covered item");
                let proof = B64(proof);
                cache
                    .proofs
                    .insert(Arc::as_ptr(&sk) as usize, proof.clone());
                proof
            }
        };
        let act = Action::FileClaim(FileClaim {
            claim: ClaimId::random(&mut world.rng),
            policy: policies[p],
            record,
            item: 0,
            proof,
        });
        claims.push(world.step(patient, "/v1/claims".into(), act, 201));
    }
    split(claims, submitters)
}
