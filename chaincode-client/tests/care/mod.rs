//! Drives the real CareChain contract through an [`EmbeddedLedger`]: actors
//! with real keys, signed statements, and the multi-step set-ups (consent,
//! records, products, policies, claim proofs). Optionally checks every
//! transaction and query against the in-memory reference (`MemoryState`),
//! fed the ids and timestamps the ledger assigned. Shared by
//! `tests/real_contract.rs` and `benches/contract.rs`.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use carechain_chaincode::contract::CURRENT_RULES;
use carechain_chaincode::memory::MemoryState;
use carechain_chaincode::{CareChain, ChaincodeError, Timestamp};
use carechain_core::envelope::{self, DataKey, HpkeSecretKey};
use carechain_core::icd10::Icd10Code;
use carechain_core::identity::SigningKey;
use carechain_core::ids::{ActorId, B64, RecordId, RequestId};
use carechain_core::paillier::{self, SecretKey};
use carechain_core::statement::*;
use carechain_ledger::{Clock, EmbeddedLedger, Ledger, LedgerError, Proposal};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::Value;

mod insurance;
#[allow(unused_imports)] // Not every user of this module needs both.
pub use insurance::{ct, decision};

/// The audience of the test ledger.
pub const AUD: &str = "carechain:test";
/// One day.
pub const DAY: i64 = 86_400;

/// A clock the test sets; reads whole seconds.
#[derive(Debug)]
pub struct SettableClock(pub AtomicI64);

impl Clock for SettableClock {
    fn now(&self) -> Timestamp {
        Timestamp {
            seconds: self.0.load(Ordering::Relaxed),
            nanos: 0,
        }
    }
}

/// Someone with keys.
pub struct Actor {
    pub key: SigningKey,
    pub hpke: HpkeSecretKey,
    pub paillier: Option<Arc<SecretKey>>,
    pub role: Role,
}

impl Actor {
    pub fn id(&self) -> ActorId {
        self.key.actor_id()
    }

    pub fn registration(&self, proof: Option<B64>) -> RegisterIdentity {
        RegisterIdentity {
            role: self.role,
            signing_key: self.key.verifying_key(),
            hpke_key: B64(self.hpke.public_key().to_bytes()),
            display_name: format!("{:?}", self.role),
            paillier: self.paillier.as_ref().map(|sk| PaillierRegistration {
                public_key: B64(sk.public_key().to_bytes()),
                key_proof: proof.unwrap_or_else(|| B64(sk.prove_key_correct().to_bytes())),
            }),
        }
    }

    pub fn paillier_public(&self) -> &paillier::PublicKey {
        self.paillier.as_ref().expect("a patient").public_key()
    }
}

/// The contract behind a ledger, a clock, a seeded RNG and the first admin.
pub struct Care {
    pub ledger: Arc<dyn Ledger>,
    /// The embedded ledger behind `ledger`, for the reference checks.
    pub embedded: Option<Arc<EmbeddedLedger>>,
    pub rt: tokio::runtime::Handle,
    pub clock: Arc<dyn Clock>,
    pub rng: ChaCha20Rng,
    pub admin: Actor,
    /// When set, every transaction and query is checked against it.
    pub reference: Option<MemoryState>,
    /// Encrypt each (key, plaintext) once and reuse the ciphertext (benches).
    pub reuse_ciphertexts: bool,
    ciphertexts: HashMap<(usize, u64), B64>,
    proofs: HashMap<(String, String), B64>,
    key_proofs: HashMap<usize, B64>,
}

/// A refusal's status and code, or a success's JSON.
pub type Outcome = Result<Value, ChaincodeError>;

impl Care {
    /// Initialises the contract on the embedded `ledger` with a first admin.
    pub fn new(
        ledger: Arc<EmbeddedLedger>,
        rt: tokio::runtime::Handle,
        clock: Arc<dyn Clock>,
        reference: Option<MemoryState>,
    ) -> Self {
        let embedded = Some(ledger.clone());
        Self::init(ledger, embedded, rt, clock, reference, Some(CURRENT_RULES))
    }

    /// As [`Care::new`], initialised under storage `rules` (`None`: an `init`
    /// config without `rules`, as every ledger before rules existed).
    pub fn with_rules(
        ledger: Arc<EmbeddedLedger>,
        rt: tokio::runtime::Handle,
        clock: Arc<dyn Clock>,
        reference: Option<MemoryState>,
        rules: Option<u32>,
    ) -> Self {
        let embedded = Some(ledger.clone());
        Self::init(ledger, embedded, rt, clock, reference, rules)
    }

    /// Initialises the contract on any `ledger` whose transactions are
    /// stamped by `clock`'s time (no reference checks).
    pub fn on(ledger: Arc<dyn Ledger>, rt: tokio::runtime::Handle, clock: Arc<dyn Clock>) -> Self {
        Self::init(ledger, None, rt, clock, None, Some(CURRENT_RULES))
    }

    fn init(
        ledger: Arc<dyn Ledger>,
        embedded: Option<Arc<EmbeddedLedger>>,
        rt: tokio::runtime::Handle,
        clock: Arc<dyn Clock>,
        reference: Option<MemoryState>,
        rules: Option<u32>,
    ) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let admin = Actor {
            key: SigningKey::generate(&mut rng),
            hpke: HpkeSecretKey::generate(&mut rng),
            paillier: None,
            role: Role::Admin,
        };
        let mut care = Care {
            ledger,
            embedded,
            rt,
            clock,
            rng,
            admin,
            reference,
            reuse_ciphertexts: false,
            ciphertexts: HashMap::new(),
            proofs: HashMap::new(),
            key_proofs: HashMap::new(),
        };
        let token = care.token_as_admin(Action::RegisterIdentity(care.admin.registration(None)));
        let config = match rules {
            Some(rules) => format!(r#"{{"audience":"{AUD}","rules":{rules}}}"#),
            None => format!(r#"{{"audience":"{AUD}"}}"#),
        };
        let config = config.into_bytes();
        care.invoke("init", &[config, token.into_bytes()])
            .expect("init");
        care
    }

    pub fn now(&self) -> i64 {
        self.clock.now().seconds
    }

    /// Signs `act` as the holder of `key`, issued now, valid 10 minutes.
    pub fn token(&mut self, key: &SigningKey, act: Action) -> String {
        let now = self.now();
        Statement::new(key.actor_id(), AUD, act, now, 600, &mut self.rng)
            .sign(key)
            .expect("sign")
    }

    pub fn token_as_admin(&mut self, act: Action) -> String {
        let key = SigningKey::from_bytes(self.admin.key.to_bytes().as_slice()).unwrap();
        self.token(&key, act)
    }

    /// Submits a transaction; checks it against the reference if there is one.
    pub fn invoke(&mut self, function: &str, args: &[Vec<u8>]) -> Outcome {
        let proposal = Proposal::new(function, args.to_vec());
        let got = self.rt.block_on(self.ledger.submit(proposal));
        match got {
            Ok(c) => {
                if let (Some(reference), Some(embedded)) = (&mut self.reference, &self.embedded) {
                    let block = embedded.block(c.block).unwrap();
                    let tx = block
                        .transactions
                        .iter()
                        .find(|t| t.tx_id == c.tx_id)
                        .unwrap();
                    let want = reference
                        .execute(&CareChain, &tx.tx_id, tx.timestamp, function, args)
                        .unwrap_or_else(|e| panic!("reference refused {function}: {e:?}"));
                    assert_eq!(c.payload, want.payload, "payload of {function}");
                    assert_eq!(tx.event, want.event, "event of {function}");
                }
                Ok(serde_json::from_slice(&c.payload).expect("result JSON"))
            }
            Err(LedgerError::Refused {
                status,
                code,
                message,
            }) => {
                if let Some(reference) = &mut self.reference {
                    let now = self.clock.now();
                    let want = reference.execute(&CareChain, "refused", now, function, args);
                    let want = want.expect_err("the reference refuses too");
                    assert_eq!((want.status, &want.code), (status, &code), "{message}");
                }
                Err(ChaincodeError {
                    status,
                    code,
                    message,
                })
            }
            Err(e) => panic!("{function}: {e}"),
        }
    }

    pub fn submit_token(&mut self, token: &str) -> Outcome {
        self.invoke("submit", &[token.as_bytes().to_vec()])
    }

    pub fn submit(&mut self, actor: &Actor, act: Action) -> Outcome {
        let token = self.token(&actor.key, act);
        self.submit_token(&token)
    }

    pub fn admin_submit(&mut self, act: Action) -> Outcome {
        let token = self.token_as_admin(act);
        self.submit_token(&token)
    }

    /// A read-only query, checked against the reference if there is one.
    pub fn query(&mut self, function: &str, args: &[&str]) -> Outcome {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let got = self
            .rt
            .block_on(self.ledger.evaluate(Proposal::new(function, args.clone())));
        let got = got.map_err(|e| match e {
            LedgerError::Refused {
                status,
                code,
                message,
            } => ChaincodeError {
                status,
                code,
                message,
            },
            e => panic!("{function}: {e}"),
        });
        if let Some(reference) = &mut self.reference {
            let want = reference.query(&CareChain, self.clock.now(), function, &args);
            assert_eq!(got, want, "query {function}");
        }
        got.map(|bytes| serde_json::from_slice(&bytes).expect("query JSON"))
    }

    /// A new actor with fresh keys, not registered.
    pub fn new_actor(&mut self, role: Role, paillier: Option<Arc<SecretKey>>) -> Actor {
        Actor {
            key: SigningKey::generate(&mut self.rng),
            hpke: HpkeSecretKey::generate(&mut self.rng),
            paillier,
            role,
        }
    }

    /// An unregistered patient with Paillier key `sk` and its self-registration.
    pub fn new_patient(&mut self, sk: &Arc<SecretKey>) -> (Actor, String) {
        let patient = self.new_actor(Role::Patient, Some(sk.clone()));
        let slot = Arc::as_ptr(sk) as usize;
        let proof = self
            .key_proofs
            .entry(slot)
            .or_insert_with(|| B64(sk.prove_key_correct().to_bytes()))
            .clone();
        let act = Action::RegisterIdentity(patient.registration(Some(proof)));
        let token = self.token(&patient.key, act);
        (patient, token)
    }

    /// A registered patient using Paillier key `sk`.
    pub fn patient(&mut self, sk: &Arc<SecretKey>) -> Actor {
        let (patient, token) = self.new_patient(sk);
        self.submit_token(&token).expect("patient registers");
        patient
    }

    /// A doctor or insurer registered by the admin.
    pub fn registered(&mut self, role: Role) -> Actor {
        let actor = self.new_actor(role, None);
        self.admin_submit(Action::RegisterIdentity(actor.registration(None)))
            .expect("admin registers");
        actor
    }

    /// The doctor's signed access request for `actions` on `scope`, 30 days.
    pub fn request_token(
        &mut self,
        doctor: &Actor,
        patient: &Actor,
        actions: Vec<AccessAction>,
        scope: Scope,
    ) -> (RequestId, String) {
        let request = RequestId::random(&mut self.rng);
        let act = Action::AccessRequest(AccessRequest {
            request,
            patient: patient.id(),
            actions,
            scope,
            purpose: PurposeOfUse::Treat,
            duration_secs: 30 * DAY,
        });
        (request, self.token(&doctor.key, act))
    }

    pub fn request(
        &mut self,
        doctor: &Actor,
        patient: &Actor,
        actions: Vec<AccessAction>,
        scope: Scope,
    ) -> RequestId {
        let (request, token) = self.request_token(doctor, patient, actions, scope);
        self.submit_token(&token).expect("request");
        request
    }

    /// The patient's grant of what was asked, for `days`, with keys for `records`.
    #[allow(clippy::too_many_arguments)]
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
            let key = self
                .query("record_key", &[&record.to_string(), patient.id().as_str()])
                .expect("patient's key");
            let wrapped: envelope::WrappedKey = serde_json::from_value(key).unwrap();
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
            expires_at: self.now() + days * DAY,
            keys,
        }
    }

    /// Request + full grant of read and write on everything, for 7 days.
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

    fn encrypt(&mut self, patient: &Actor, m: u64) -> B64 {
        let sk = patient.paillier.clone().expect("a patient");
        if !self.reuse_ciphertexts {
            return B64(sk.public_key().encrypt(m, &mut self.rng).to_bytes());
        }
        let slot = (Arc::as_ptr(&sk) as usize, m);
        if let Some(ct) = self.ciphertexts.get(&slot) {
            return ct.clone();
        }
        let ct = B64(sk.public_key().encrypt(m, &mut self.rng).to_bytes());
        self.ciphertexts.insert(slot, ct.clone());
        ct
    }

    /// A record body for `patient` with diagnosis `code`, keys for the current readers.
    pub fn record_body(&mut self, patient: &Actor, code: &str) -> WriteRecord {
        let record = RecordId::random(&mut self.rng);
        let code: Icd10Code = code.parse().unwrap();
        let readers = self
            .query("readers", &[patient.id().as_str(), "general"])
            .expect("readers");
        let readers: Vec<(ActorId, envelope::HpkePublicKey)> = readers
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let actor: ActorId = r["actor"].as_str().unwrap().parse().unwrap();
                let key = B64::decode(r["hpke_key"].as_str().unwrap()).unwrap();
                let key = envelope::HpkePublicKey::from_bytes(key.as_bytes()).unwrap();
                (actor, key)
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
        WriteRecord {
            record,
            patient: patient.id(),
            category: RecordCategory::General,
            nonce: sealed.nonce,
            payload: sealed.ciphertext,
            keys,
            code: self.encrypt(patient, code.encode()),
            code_category: self.encrypt(patient, code.category().encode()),
        }
    }

    /// The doctor writes a record with `code` for the patient; returns its id.
    pub fn write(&mut self, doctor: &Actor, patient: &Actor, code: &str) -> RecordId {
        let body = self.record_body(patient, code);
        let record = body.record;
        self.submit(doctor, Action::WriteRecord(body))
            .expect("write");
        record
    }
}
