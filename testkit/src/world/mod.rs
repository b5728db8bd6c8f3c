//! A test world over any [`Driver`]: a seeded RNG, the first admin, and the
//! scenario steps written once — actors registering, consent, records,
//! products, policies and claims — so a scenario runs unchanged on the
//! in-memory state, the embedded ledger, the Fabric test peer or the relay.

mod consent;
mod insurance;
mod memory;

pub use consent::{ALL, open};

use std::collections::HashMap;
use std::sync::Arc;

use carechain_chaincode::contract::CURRENT_RULES;
use carechain_core::identity::SigningKey;
use carechain_core::ids::B64;
use carechain_core::ledger::Query;
use carechain_core::paillier::SecretKey;
use carechain_core::statement::{Action, Role, Statement};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;

use crate::driver::{Driver, Outcome};
use crate::{Actor, keys, statements};

/// The contract behind a driver, a seeded RNG and the first admin.
pub struct World<D: Driver> {
    /// The backend.
    pub driver: D,
    /// Every key, id and nonce comes from it: the same world on every run.
    pub rng: ChaCha20Rng,
    /// The first admin, registered at `init`.
    pub admin: Actor,
    /// Encrypt each (key, plaintext) once and reuse the ciphertext, so claim
    /// proofs can be reused too (benches; the contract cannot tell).
    pub reuse_ciphertexts: bool,
    /// The storage rules the ledger was initialised under (what an honest
    /// insurer's issue carries depends on them).
    pub rules: u32,
    ciphertexts: HashMap<(usize, u64), B64>,
    proofs: HashMap<(B64, B64), B64>,
}

impl<D: Driver> World<D> {
    /// A world on `driver`, initialised under the current storage rules.
    pub fn new(driver: D) -> Self {
        Self::with_rules(driver, Some(CURRENT_RULES))
    }

    /// A world on `driver`, initialised under storage `rules` (`None`: the original rules).
    pub fn with_rules(driver: D, rules: Option<u32>) -> Self {
        Self::with_config(driver, &crate::config(rules))
    }

    /// A world on `driver`, initialised with `config`.
    pub fn with_config(driver: D, config: &[u8]) -> Self {
        let mut world = Self::uninitialised(driver);
        let token = world.admin_registration();
        world.driver.init(config, &token).expect("init");
        world.rules = serde_json::from_slice::<serde_json::Value>(config)
            .ok()
            .and_then(|c| c["rules"].as_u64())
            .map_or(0, |r| u32::try_from(r).unwrap_or(u32::MAX));
        world
    }

    /// A world on `driver` whose contract is not initialised: the admin exists
    /// only as keys (its `rules` are the current ones until `init` says otherwise).
    pub fn uninitialised(driver: D) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let admin = Actor::generate(Role::Admin, None, &mut rng);
        World {
            driver,
            rng,
            admin,
            reuse_ciphertexts: false,
            rules: CURRENT_RULES,
            ciphertexts: HashMap::new(),
            proofs: HashMap::new(),
        }
    }

    /// The admin's self-signed registration, as `init` expects it.
    pub fn admin_registration(&mut self) -> String {
        let registration = self.admin.registration();
        self.token_as_admin(Action::RegisterIdentity(registration))
    }

    /// The ledger's current time.
    pub fn now(&self) -> i64 {
        self.driver.now()
    }

    /// Sets the ledger's time (panics where the backend's clock is fixed).
    pub fn set_now(&mut self, seconds: i64) {
        self.driver.set_now(seconds).expect("a settable clock");
    }

    /// Moves the ledger's time on by `secs`.
    pub fn advance(&mut self, secs: i64) {
        self.set_now(self.now() + secs);
    }

    /// Moves the ledger's time on by `secs` where the backend allows it;
    /// whether it did.
    pub fn try_advance(&mut self, secs: i64) -> bool {
        self.driver.set_now(self.now() + secs).is_ok()
    }

    /// A copy of the admin's signing key.
    pub fn admin_key(&self) -> SigningKey {
        self.admin.signing_key()
    }

    /// The statement of `act` by the holder of `key`, issued now (to edit before signing).
    pub fn statement(&mut self, key: &SigningKey, act: Action) -> Statement {
        statements::statement(key, act, self.now(), &mut self.rng)
    }

    /// `act` signed by the holder of `key`, issued now, valid 10 minutes.
    pub fn sign(&mut self, key: &SigningKey, act: Action) -> String {
        statements::sign(key, act, self.now(), &mut self.rng)
    }

    /// `act` signed by the admin.
    pub fn token_as_admin(&mut self, act: Action) -> String {
        let key = self.admin_key();
        self.sign(&key, act)
    }

    /// Submits a signed statement.
    pub fn submit_token(&mut self, token: &str) -> Outcome {
        self.driver.submit(token)
    }

    /// Signs `act` as `actor` and submits it.
    pub fn submit(&mut self, actor: &Actor, act: Action) -> Outcome {
        let token = self.sign(&actor.key, act);
        self.submit_token(&token)
    }

    /// Signs `act` as the admin and submits it.
    pub fn admin_submit(&mut self, act: Action) -> Outcome {
        let token = self.token_as_admin(act);
        self.submit_token(&token)
    }

    /// Answers a typed query.
    pub fn ask(&mut self, query: &Query) -> Outcome {
        self.driver.query(query)
    }

    /// Answers the query `name` with `args`, as the contract decodes them
    /// (a malformed query is a test bug: use the driver's raw query).
    pub fn query(&mut self, name: &str, args: &[&str]) -> Outcome {
        let raw: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let query = Query::decode(name, &raw)
            .unwrap_or_else(|err| panic!("query {name}{args:?} is malformed: {err}"));
        self.ask(&query)
    }

    /// A new actor with fresh keys, not registered.
    pub fn new_actor(&mut self, role: Role, paillier: Option<Arc<SecretKey>>) -> Actor {
        Actor::generate(role, paillier, &mut self.rng)
    }

    /// An unregistered patient with Paillier key `sk` and its signed self-registration.
    pub fn new_patient(&mut self, sk: &Arc<SecretKey>) -> (Actor, String) {
        let patient = self.new_actor(Role::Patient, Some(sk.clone()));
        let token = self.sign(
            &patient.key,
            Action::RegisterIdentity(patient.registration()),
        );
        (patient, token)
    }

    /// A registered patient using Paillier key `sk`.
    pub fn patient_with(&mut self, sk: &Arc<SecretKey>) -> Actor {
        let (patient, token) = self.new_patient(sk);
        self.submit_token(&token).expect("patient registers");
        patient
    }

    /// A registered patient using shared Paillier key `slot`.
    pub fn patient(&mut self, slot: usize) -> Actor {
        self.patient_with(&keys::paillier_key(slot))
    }

    /// A doctor or insurer registered by the admin.
    pub fn registered(&mut self, role: Role) -> Actor {
        let actor = self.new_actor(role, None);
        self.admin_submit(Action::RegisterIdentity(actor.registration()))
            .expect("admin registers");
        actor
    }

    /// An unregistered actor of `role` (a patient gets shared Paillier key 2).
    pub fn stranger(&mut self, role: Role) -> Actor {
        let paillier = (role == Role::Patient).then(|| keys::paillier_key(2));
        self.new_actor(role, paillier)
    }

    /// `fresh`, or the first ciphertext made of `m` under the patient's key
    /// when ciphertexts are reused.
    fn reuse(&mut self, patient: &Actor, m: u64, fresh: B64) -> B64 {
        if !self.reuse_ciphertexts {
            return fresh;
        }
        let key = patient.paillier.as_ref().expect("a patient");
        let slot = (Arc::as_ptr(key) as usize, m);
        self.ciphertexts.entry(slot).or_insert(fresh).clone()
    }
}
