//! A small world for contract tests: the real contract on the in-memory
//! reference state, a settable clock, and actors holding real keys.
#![allow(dead_code)]

pub mod consent;
pub mod genesis;
pub mod insurance;
pub mod records;

use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use serde_json::Value;

use carechain_chaincode::memory::MemoryState;
use carechain_chaincode::{CareChain, ChaincodeError, Timestamp};
use carechain_core::envelope::{self, DataKey, HpkeSecretKey};
use carechain_core::icd10::{CoveredCode, Icd10Code};
use carechain_core::identity::SigningKey;
use carechain_core::ids::{ActorId, B64, ClaimId, PolicyId, ProductId, RecordId, RequestId};
use carechain_core::paillier::{self, Ciphertext, SecretKey};
use carechain_core::statement::*;

/// The audience of the test ledger.
pub const AUD: &str = "carechain:test";
/// The genesis time.
pub const T0: i64 = 1_800_000_000;
/// One day.
pub const DAY: i64 = 86_400;

/// Paillier keys are slow to make: a few shared 2048-bit keys for all tests.
pub fn paillier_key(slot: usize) -> &'static SecretKey {
    static KEYS: OnceLock<Vec<SecretKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0xC0FFEE);
        (0..3)
            .map(|_| SecretKey::generate(2048, &mut rng).expect("key generation"))
            .collect()
    });
    &keys[slot % keys.len()]
}

/// Someone with keys.
pub struct Actor {
    pub key: SigningKey,
    pub hpke: HpkeSecretKey,
    pub paillier: Option<&'static SecretKey>,
    pub role: Role,
}

impl Actor {
    pub fn id(&self) -> ActorId {
        self.key.actor_id()
    }

    pub fn registration(&self) -> RegisterIdentity {
        RegisterIdentity {
            role: self.role,
            signing_key: self.key.verifying_key(),
            hpke_key: B64(self.hpke.public_key().to_bytes()),
            display_name: format!("{:?}", self.role),
            paillier: self.paillier.map(|sk| PaillierRegistration {
                public_key: B64(sk.public_key().to_bytes()),
                key_proof: B64(sk.prove_key_correct().to_bytes()),
            }),
        }
    }

    pub fn paillier_public(&self) -> &paillier::PublicKey {
        self.paillier.expect("a patient").public_key()
    }
}

/// The contract, its state, a clock and a seeded RNG.
pub struct World {
    pub state: MemoryState,
    pub now: i64,
    pub rng: ChaCha20Rng,
    tx_counter: u64,
    pub admin: Actor,
    pub last_event: Option<(String, Value)>,
    /// Every call made, in order, with its raw outcome (replayed elsewhere,
    /// e.g. through the chaincode server, to compare answers).
    pub log: Vec<Call>,
}

/// One call of the contract and what the reference state answered.
#[derive(Clone, Debug)]
pub struct Call {
    pub function: String,
    pub args: Vec<Vec<u8>>,
    /// The transaction id, or `None` for a read-only query.
    pub tx_id: Option<String>,
    pub now: i64,
    /// Payload and event, or the refusal.
    pub result: Result<(Vec<u8>, Option<Event>), ChaincodeError>,
}

/// An event: name and payload.
pub type Event = (String, Vec<u8>);

impl World {
    /// A world initialised with a first admin at `T0`, under the current storage rules.
    pub fn new() -> Self {
        Self::with_config(br#"{"audience":"carechain:test","rules":1}"#)
    }

    /// A world initialised with `config` (e.g. without `rules`: the original rules).
    pub fn with_config(config: &[u8]) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let admin = Actor {
            key: SigningKey::generate(&mut rng),
            hpke: HpkeSecretKey::generate(&mut rng),
            paillier: None,
            role: Role::Admin,
        };
        let mut world = World {
            state: MemoryState::new(),
            now: T0,
            rng,
            tx_counter: 0,
            admin,
            last_event: None,
            log: Vec::new(),
        };
        let admin_key = world.admin_key();
        let registration = world.admin.registration();
        let token = world.sign(&admin_key, Action::RegisterIdentity(registration));
        world
            .invoke("init", &[config.to_vec(), token.into_bytes()])
            .expect("init");
        world
    }

    /// A copy of the admin's signing key.
    pub fn admin_key(&self) -> SigningKey {
        SigningKey::from_bytes(self.admin.key.to_bytes().as_slice()).unwrap()
    }

    pub fn sign(&mut self, key: &SigningKey, act: Action) -> String {
        Statement::new(key.actor_id(), AUD, act, self.now, 600, &mut self.rng)
            .sign(key)
            .expect("sign")
    }

    pub fn invoke(&mut self, function: &str, args: &[Vec<u8>]) -> Result<Value, ChaincodeError> {
        self.tx_counter += 1;
        let tx_id = format!("tx{:06}", self.tx_counter);
        let outcome = self.state.execute(
            &CareChain,
            &tx_id,
            Timestamp {
                seconds: self.now,
                nanos: 0,
            },
            function,
            args,
        );
        self.log.push(Call {
            function: function.to_owned(),
            args: args.to_vec(),
            tx_id: Some(tx_id),
            now: self.now,
            result: outcome
                .clone()
                .map(|o| (o.payload.clone(), o.event.clone())),
        });
        let outcome = outcome?;
        self.last_event = outcome
            .event
            .map(|(name, payload)| (name, serde_json::from_slice(&payload).expect("event JSON")));
        Ok(serde_json::from_slice(&outcome.payload).expect("result JSON"))
    }

    /// Submits a raw token.
    pub fn submit_token(&mut self, token: &str) -> Result<Value, ChaincodeError> {
        self.invoke("submit", &[token.as_bytes().to_vec()])
    }

    /// Signs `act` as `actor` and submits it.
    pub fn submit(&mut self, actor: &Actor, act: Action) -> Result<Value, ChaincodeError> {
        let token = self.sign(&actor.key, act);
        self.submit_token(&token)
    }

    pub fn query(&mut self, function: &str, args: &[&str]) -> Result<Value, ChaincodeError> {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let result = self.state.query(
            &CareChain,
            Timestamp {
                seconds: self.now,
                nanos: 0,
            },
            function,
            &args,
        );
        self.log.push(Call {
            function: function.to_owned(),
            args,
            tx_id: None,
            now: self.now,
            result: result.clone().map(|payload| (payload, None)),
        });
        result.map(|bytes| serde_json::from_slice(&bytes).expect("query JSON"))
    }

    fn new_actor(&mut self, role: Role, paillier: Option<&'static SecretKey>) -> Actor {
        Actor {
            key: SigningKey::generate(&mut self.rng),
            hpke: HpkeSecretKey::generate(&mut self.rng),
            paillier,
            role,
        }
    }

    /// A registered patient using shared Paillier key `slot`.
    pub fn patient(&mut self, slot: usize) -> Actor {
        let patient = self.new_actor(Role::Patient, Some(paillier_key(slot)));
        self.submit(&patient, Action::RegisterIdentity(patient.registration()))
            .expect("patient registers");
        patient
    }

    /// A doctor or insurer registered by the admin.
    pub fn registered(&mut self, role: Role) -> Actor {
        let actor = self.new_actor(role, None);
        let admin_key = self.admin_key();
        let token = self.sign(&admin_key, Action::RegisterIdentity(actor.registration()));
        self.submit_token(&token).expect("admin registers");
        actor
    }

    /// An unregistered actor of `role`.
    pub fn stranger(&mut self, role: Role) -> Actor {
        let paillier = (role == Role::Patient).then(|| paillier_key(2));
        self.new_actor(role, paillier)
    }

    pub fn admin_submit(&mut self, act: Action) -> Result<Value, ChaincodeError> {
        let admin_key = self.admin_key();
        let token = self.sign(&admin_key, act);
        self.submit_token(&token)
    }

    /// The doctor requests `actions` on `scope` for a day; returns the request id.
    pub fn request(
        &mut self,
        doctor: &Actor,
        patient: &Actor,
        actions: Vec<AccessAction>,
        scope: Scope,
    ) -> RequestId {
        let request = RequestId::random(&mut self.rng);
        self.submit(
            doctor,
            Action::AccessRequest(AccessRequest {
                request,
                patient: patient.id(),
                actions,
                scope,
                purpose: PurposeOfUse::Treat,
                duration_secs: 30 * DAY,
            }),
        )
        .expect("request");
        request
    }

    /// The patient's grant of what was asked, for `days`, with keys for `records`.
    pub fn grant_body(
        &mut self,
        patient: &Actor,
        doctor: &Actor,
        request: RequestId,
        actions: Vec<AccessAction>,
        scope: Scope,
        days: i64,
        records: &[RecordId],
    ) -> Grant {
        let mut keys = Vec::new();
        for &record in records {
            let wrapped: envelope::WrappedKey = serde_json::from_value(
                self.query("record_key", &[&record.to_string(), patient.id().as_str()])
                    .expect("patient's key"),
            )
            .unwrap();
            let rewrapped = wrapped
                .rewrap_for(
                    &patient.hpke,
                    &doctor.hpke.public_key(),
                    &patient.id(),
                    &record,
                    &mut self.rng,
                )
                .expect("rewrap");
            keys.push(RecordKey {
                record,
                enc: rewrapped.enc,
                ciphertext: rewrapped.ciphertext,
            });
        }
        Grant {
            request,
            actions,
            scope,
            expires_at: self.now + days * DAY,
            keys,
        }
    }

    /// Request + full grant of read and write on everything.
    pub fn consent(&mut self, doctor: &Actor, patient: &Actor) -> RequestId {
        let all = vec![AccessAction::Read, AccessAction::Write];
        let request = self.request(doctor, patient, all.clone(), Scope::All);
        let records = self.records_of(patient);
        let body = self.grant_body(patient, doctor, request, all, Scope::All, 7, &records);
        self.submit(patient, Action::Grant(body)).expect("grant");
        request
    }

    pub fn records_of(&mut self, patient: &Actor) -> Vec<RecordId> {
        let page = self
            .query("records_for_patient", &[patient.id().as_str()])
            .expect("records");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["record"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    /// A record body for `patient` with diagnosis `code`, keys for the current readers.
    pub fn record_body(
        &mut self,
        patient: &Actor,
        code: &str,
        category: RecordCategory,
    ) -> WriteRecord {
        let record = RecordId::random(&mut self.rng);
        let code: Icd10Code = code.parse().unwrap();
        let readers = self
            .query("readers", &[patient.id().as_str(), category_name(category)])
            .expect("readers");
        let readers: Vec<(ActorId, envelope::HpkePublicKey)> = readers
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let actor: ActorId = r["actor"].as_str().unwrap().parse().unwrap();
                let key = B64::decode(r["hpke_key"].as_str().unwrap()).unwrap();
                (
                    actor,
                    envelope::HpkePublicKey::from_bytes(key.as_bytes()).unwrap(),
                )
            })
            .collect();
        let payload = serde_json::json!({"resourceType": "Condition", "code": code.to_string()});
        let data_key = DataKey::generate(&mut self.rng);
        let sealed = envelope::seal(
            payload.to_string().as_bytes(),
            &data_key,
            &patient.id(),
            &record,
            &mut self.rng,
        );
        let keys = readers
            .iter()
            .map(|(actor, key)| {
                let wrapped = data_key
                    .wrap_for(key, &patient.id(), &record, &mut self.rng)
                    .unwrap();
                ReaderKey {
                    reader: actor.clone(),
                    enc: wrapped.enc,
                    ciphertext: wrapped.ciphertext,
                }
            })
            .collect();
        let pk = patient.paillier_public();
        WriteRecord {
            record,
            patient: patient.id(),
            category,
            nonce: sealed.nonce,
            payload: sealed.ciphertext,
            keys,
            code: B64(pk.encrypt(code.encode(), &mut self.rng).to_bytes()),
            code_category: B64(pk
                .encrypt(code.category().encode(), &mut self.rng)
                .to_bytes()),
        }
    }

    /// The doctor writes a record with `code` for the patient; returns its id.
    pub fn write(&mut self, doctor: &Actor, patient: &Actor, code: &str) -> RecordId {
        let body = self.record_body(patient, code, RecordCategory::General);
        let record = body.record;
        self.submit(doctor, Action::WriteRecord(body))
            .expect("write");
        record
    }

    /// The insurer publishes a product covering `items` (code, payout).
    pub fn product(&mut self, insurer: &Actor, items: &[(&str, u64)]) -> ProductId {
        let product = ProductId::random(&mut self.rng);
        self.submit(
            insurer,
            Action::PublishProduct(PublishProduct {
                product,
                name: "Test cover".into(),
                currency: "EUR".into(),
                premium: 1_000,
                term_days: 365,
                items: items
                    .iter()
                    .map(|(code, payout)| CoveredItem {
                        code: (*code).into(),
                        payout: *payout,
                    })
                    .collect(),
            }),
        )
        .expect("publish");
        product
    }

    /// The patient buys, the insurer issues honestly; returns the policy id.
    pub fn policy(&mut self, insurer: &Actor, patient: &Actor, product: ProductId) -> PolicyId {
        let policy = PolicyId::random(&mut self.rng);
        self.submit(
            patient,
            Action::PurchasePolicy(PurchasePolicy { policy, product }),
        )
        .expect("purchase");
        let items = self.issue_items(patient, product);
        self.submit(insurer, Action::IssuePolicy(IssuePolicy { policy, items }))
            .expect("issue");
        policy
    }

    /// `E(M_i)` for each item of `product` under the patient's key.
    pub fn issue_items(&mut self, patient: &Actor, product: ProductId) -> Vec<B64> {
        let product = self.query("product", &[&product.to_string()]).unwrap();
        let pk = patient.paillier_public().clone();
        product["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let code: CoveredCode = item["code"].as_str().unwrap().parse().unwrap();
                B64(pk.encrypt(code.encode(), &mut self.rng).to_bytes())
            })
            .collect()
    }

    /// The honest phone's proof for claiming `record` under item `item` of `policy`.
    pub fn proof(&mut self, patient: &Actor, policy: PolicyId, record: RecordId, item: u32) -> B64 {
        let sk = patient.paillier.expect("patient");
        let pk = sk.public_key();
        let policy = self.query("policy", &[&policy.to_string()]).unwrap();
        let product = self
            .query("product", &[policy["product"].as_str().unwrap()])
            .unwrap();
        let record = self.query("record", &[&record.to_string()]).unwrap();
        let item_code: CoveredCode = product["items"][item as usize]["code"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let item_ct = ct(pk, policy["items"][item as usize].as_str().unwrap());
        let diag_ct = match item_code {
            CoveredCode::Code(_) => ct(pk, record["code"].as_str().unwrap()),
            CoveredCode::Category(_) => ct(pk, record["code_category"].as_str().unwrap()),
        };
        let difference = pk.sub(&item_ct, &diag_ct).unwrap();
        match sk.prove_zero(&difference) {
            Ok(proof) => B64(proof.to_bytes()),
            // Not equal: the phone has no proof; send the best forgery it can, ρ for another c.
            Err(_) => {
                let zero = pk.encrypt(0, &mut self.rng);
                B64(sk.prove_zero(&zero).unwrap().to_bytes())
            }
        }
    }

    pub fn claim(
        &mut self,
        patient: &Actor,
        policy: PolicyId,
        record: RecordId,
        item: u32,
    ) -> Result<Value, ChaincodeError> {
        let proof = self.proof(patient, policy, record, item);
        let claim = ClaimId::random(&mut self.rng);
        self.submit(
            patient,
            Action::FileClaim(FileClaim {
                claim,
                policy,
                record,
                item,
                proof,
            }),
        )
    }
}

pub fn ct(pk: &paillier::PublicKey, b64: &str) -> Ciphertext {
    pk.ciphertext_from_bytes(B64::decode(b64).unwrap().as_bytes())
        .unwrap()
}

pub fn category_name(category: RecordCategory) -> &'static str {
    match category {
        RecordCategory::General => "general",
        RecordCategory::Laboratory => "laboratory",
        RecordCategory::Imaging => "imaging",
        RecordCategory::MentalHealth => "mental-health",
        RecordCategory::SexualHealth => "sexual-health",
        RecordCategory::SubstanceUse => "substance-use",
        RecordCategory::Genetic => "genetic",
    }
}

/// Asserts a refusal with `code`.
#[track_caller]
pub fn refused(result: Result<Value, ChaincodeError>, code: &str) -> ChaincodeError {
    match result {
        Ok(value) => panic!("expected refusal {code}, got success {value}"),
        Err(err) => {
            assert_eq!(err.code, code, "{err:?}");
            err
        }
    }
}

/// The decision of a claim result.
pub fn decision(result: &Value) -> (&str, Option<&str>) {
    (
        result["decision"]["decision"].as_str().unwrap(),
        result["decision"]["reason"].as_str(),
    )
}

// ---- Helpers added for the identity/consent/record/statement/query tests ----

/// Every state entry, in key order (to prove a refusal changed nothing).
pub fn snapshot(w: &World) -> Vec<(String, Vec<u8>)> {
    w.state
        .entries()
        .map(|(k, v)| (k.to_owned(), v.to_vec()))
        .collect()
}

/// Submits `token`, asserts the refusal `code` and that the state did not change.
#[track_caller]
pub fn refuses_token(w: &mut World, token: &str, code: &str) -> ChaincodeError {
    let before = snapshot(w);
    let err = refused(w.submit_token(token), code);
    assert!(
        snapshot(w) == before,
        "a refused transaction changed the state"
    );
    err
}

/// Signs `act` as `actor`, submits it, asserts the refusal `code` and an unchanged state.
#[track_caller]
pub fn refuses_as(w: &mut World, actor: &Actor, act: Action, code: &str) -> ChaincodeError {
    let token = w.sign(&actor.key, act);
    refuses_token(w, &token, code)
}

/// As [`refuses_as`], signed by the admin.
#[track_caller]
pub fn refuses_admin(w: &mut World, act: Action, code: &str) -> ChaincodeError {
    let key = w.admin_key();
    let token = w.sign(&key, act);
    refuses_token(w, &token, code)
}

/// Signs `statement` (any claims, e.g. a chosen `jti`, `iat` or `aud`) with `key`.
pub fn sign_claims(statement: &Statement, key: &SigningKey) -> String {
    statement.sign(key).expect("sign")
}

/// A statement as `World::sign` would make it, for editing before signing.
pub fn claims(w: &mut World, key: &SigningKey, act: Action) -> Statement {
    Statement::new(key.actor_id(), AUD, act, w.now, 600, &mut w.rng)
}

/// The event emitted by the last successful transaction: name and payload.
#[track_caller]
pub fn event(w: &World) -> (String, Value) {
    w.last_event.clone().expect("an event")
}
