//! The worlds the load runs in: actors with real keys, signed statements, and
//! the set-up of a relay world (through its HTTP API: admin, approved doctor
//! and insurer, registered and logged-in patients) or of a ledger-only world
//! (the same identities registered by statements submitted directly).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::web;
use carechain_api::keystore::AdminKeys;
use carechain_api::state::AppState;
use carechain_api::{db, setup};
use carechain_core::envelope::HpkeSecretKey;
use carechain_core::identity::SigningKey;
use carechain_core::ids::{ActorId, B64};
use carechain_core::paillier::SecretKey;
use carechain_core::protocol::login::sign_login_proof;
use carechain_core::protocol::register::{paillier_registration, registration};
use carechain_core::statement::*;
use carechain_ledger::{EmbeddedLedger, Ledger as _, Proposal};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use serde_json::json;

use crate::client::{Conn, Step, Target, split};

/// The admin's password in the relay world.
const ADMIN_PASSWORD: &str = "load-admin-password-1";
/// Lifetime of every pre-signed statement, seconds (the contract allows up to an hour).
const TTL: i64 = 1800;

/// Someone with keys and, in the relay world, an access token.
pub struct Actor {
    /// The signing key.
    pub key: SigningKey,
    /// The HPKE key records are wrapped for.
    pub hpke: HpkeSecretKey,
    /// A patient's Paillier key.
    pub paillier: Option<Arc<SecretKey>>,
    /// The role.
    pub role: Role,
    /// The relay access token (empty in the ledger-only world).
    pub token: String,
}

impl Actor {
    /// The ledger identity.
    pub fn id(&self) -> ActorId {
        self.key.actor_id()
    }

    fn copy_key(&self) -> SigningKey {
        SigningKey::from_bytes(self.key.to_bytes().as_slice()).unwrap()
    }
}

/// A world: where statements go, who is in it, and a seeded RNG.
pub struct World {
    /// The relay or the ledger.
    pub target: Target,
    /// The ledger audience.
    pub aud: String,
    /// Statement nonces, ids, keys.
    pub rng: ChaCha20Rng,
    /// The first admin.
    pub admin: Actor,
    /// An approved doctor.
    pub doctor: Actor,
    /// An approved insurer.
    pub insurer: Actor,
    key_proofs: HashMap<usize, PaillierRegistration>,
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn new_actor(rng: &mut ChaCha20Rng, role: Role, paillier: Option<Arc<SecretKey>>) -> Actor {
    Actor {
        key: SigningKey::generate(rng),
        hpke: HpkeSecretKey::generate(rng),
        paillier,
        role,
        token: String::new(),
    }
}

impl World {
    /// Signs `act` as the holder of `key`, issued now.
    pub fn sign(&mut self, key: &SigningKey, act: Action) -> String {
        Statement::new(
            key.actor_id(),
            &self.aud,
            act,
            db::now(),
            TTL,
            &mut self.rng,
        )
        .sign(key)
        .unwrap()
    }

    /// A step for `actor` at relay `path` with success `status`.
    pub fn step(&mut self, actor: &Actor, path: String, act: Action, status: u16) -> Step {
        let statement = self.sign(&actor.key, act);
        Step {
            path,
            token: actor.token.clone(),
            statement,
            status,
        }
    }

    fn registration(&mut self, actor: &Actor) -> RegisterIdentity {
        let paillier = actor.paillier.as_ref().map(|sk| {
            self.key_proofs
                .entry(Arc::as_ptr(sk) as usize)
                .or_insert_with(|| paillier_registration(sk))
                .clone()
        });
        let name = format!("{:?}", actor.role);
        registration(actor.role, &actor.key, &actor.hpke, &name, paillier)
    }

    /// A ledger-only world in `dir`: `init` with an admin, then a doctor and an insurer.
    pub async fn ledger(dir: &std::path::Path, aud: &str) -> World {
        let ledger = carechain_ledger::EmbeddedLedger::open(
            dir,
            Arc::new(carechain_chaincode::CareChain),
            carechain_ledger::EmbeddedOptions::default(),
        )
        .unwrap();
        let ledger: Arc<EmbeddedLedger> = Arc::new(ledger);
        let mut r = rng(11);
        let admin = new_actor(&mut r, Role::Admin, None);
        let doctor = new_actor(&mut r, Role::Doctor, None);
        let insurer = new_actor(&mut r, Role::Insurer, None);
        let mut world = World {
            target: Target::Ledger(ledger.clone()),
            aud: aud.to_owned(),
            rng: r,
            admin,
            doctor,
            insurer,
            key_proofs: HashMap::new(),
        };
        let admin_key = world.admin.copy_key();
        let act = Action::RegisterIdentity(world.registration(&world.admin.copy()));
        let token = world.sign(&admin_key, act);
        let config = json!({
            "audience": aud,
            "rules": carechain_chaincode::contract::CURRENT_RULES,
        })
        .to_string();
        ledger
            .submit(Proposal::new(
                "init",
                [config.into_bytes(), token.into_bytes()],
            ))
            .await
            .unwrap();
        for role in [Role::Doctor, Role::Insurer] {
            let actor = if role == Role::Doctor {
                world.doctor.copy()
            } else {
                world.insurer.copy()
            };
            let act = Action::RegisterIdentity(world.registration(&actor));
            let token = world.sign(&admin_key, act);
            ledger
                .submit(Proposal::new("submit", [token.into_bytes()]))
                .await
                .unwrap();
        }
        world
    }

    /// A relay world: the admin initialised in `state`, then a doctor and an
    /// insurer who sign up, are approved and log in over HTTP at `addr`.
    pub async fn relay(state: &web::Data<AppState>, addr: SocketAddr) -> World {
        let mut r = rng(12);
        let keys = AdminKeys::generate(&mut r);
        setup::init_admin(state, &keys, "admin@example.org", ADMIN_PASSWORD, "Admin")
            .await
            .unwrap();
        let mut conn = Conn::open(addr).await.unwrap();
        let login = json!({"email": "admin@example.org", "password": ADMIN_PASSWORD}).to_string();
        let res = conn
            .call("POST", "/v1/auth/login", None, None, &login)
            .await;
        assert_eq!(res.status, 200, "admin login: {}", res.text());
        let admin = Actor {
            key: SigningKey::from_bytes(keys.signing.to_bytes().as_slice()).unwrap(),
            hpke: HpkeSecretKey::from_bytes(&keys.hpke.to_bytes()).unwrap(),
            paillier: None,
            role: Role::Admin,
            token: res.json()["access_token"].as_str().unwrap().to_owned(),
        };
        let doctor = new_actor(&mut r, Role::Doctor, None);
        let insurer = new_actor(&mut r, Role::Insurer, None);
        let mut world = World {
            target: Target::Http(addr),
            aud: state.config.ledger_audience.clone(),
            rng: r,
            admin,
            doctor,
            insurer,
            key_proofs: HashMap::new(),
        };
        world.doctor.token = world.approve(&mut conn, Role::Doctor).await;
        world.insurer.token = world.approve(&mut conn, Role::Insurer).await;
        world
    }

    /// Signs up the world's doctor or insurer, has the admin approve it, logs it in.
    async fn approve(&mut self, conn: &mut Conn, role: Role) -> String {
        let actor = if role == Role::Doctor {
            &self.doctor
        } else {
            &self.insurer
        };
        let public = actor.copy();
        let name = format!("{role:?}").to_lowercase();
        let email = format!("{name}@example.org");
        let signup = json!({
            "email": email,
            "password": "a-good-password",
            "role": name,
            "display_name": name,
            "signing_key": B64(public.key.verifying_key().to_sec1_bytes()).encode(),
            "hpke_key": B64(public.hpke.public_key().to_bytes()).encode(),
        });
        let res = conn
            .call("POST", "/v1/accounts", None, None, &signup.to_string())
            .await;
        assert_eq!(res.status, 201, "signup: {}", res.text());
        let account = res.json()["id"].as_str().unwrap().to_owned();
        let admin_key = self.admin.copy_key();
        let act = Action::RegisterIdentity(self.registration(&public));
        let statement = self.sign(&admin_key, act);
        let path = format!("/v1/admin/accounts/{account}/approve");
        let body = json!({ "statement": statement }).to_string();
        let res = conn
            .call(
                "POST",
                &path,
                Some(&self.admin.token),
                Some(&account),
                &body,
            )
            .await;
        assert_eq!(res.status, 200, "approve: {}", res.text());
        let login = json!({"email": email, "password": "a-good-password"}).to_string();
        let res = conn
            .call("POST", "/v1/auth/login", None, None, &login)
            .await;
        assert_eq!(res.status, 200, "login: {}", res.text());
        res.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// `n` registered patients cycling through `keys` (logged in, in the relay world).
    pub async fn patients(&mut self, keys: &[Arc<SecretKey>], n: usize) -> Vec<Actor> {
        let mut patients: Vec<Actor> = (0..n)
            .map(|i| {
                new_actor(
                    &mut self.rng,
                    Role::Patient,
                    Some(keys[i % keys.len()].clone()),
                )
            })
            .collect();
        let mut tokens = Vec::with_capacity(n);
        for p in &patients {
            let act = Action::RegisterIdentity(self.registration(&p.copy()));
            tokens.push(self.sign(&p.key, act));
        }
        match &self.target {
            Target::Ledger(_) => {
                let steps = tokens
                    .into_iter()
                    .map(|statement| Step {
                        path: String::new(),
                        token: String::new(),
                        statement,
                        status: 0,
                    })
                    .collect();
                crate::client::setup(&self.target, steps).await;
            }
            Target::Http(addr) => {
                let jobs: Vec<(usize, SigningKey, String)> = patients
                    .iter()
                    .zip(tokens)
                    .enumerate()
                    .map(|(i, (p, t))| (i, p.copy_key(), t))
                    .collect();
                let lanes = split(jobs, n.clamp(1, 64));
                let tasks: Vec<_> = lanes
                    .into_iter()
                    .map(|lane| actix_web::rt::spawn(register_lane(*addr, lane)))
                    .collect();
                for task in tasks {
                    for (i, token) in task.await.unwrap() {
                        patients[i].token = token;
                    }
                }
            }
        }
        patients
    }
}

impl Actor {
    /// A copy of the actor (keys and token), for use while the world is borrowed mutably.
    pub fn copy(&self) -> Actor {
        Actor {
            key: self.copy_key(),
            hpke: HpkeSecretKey::from_bytes(&self.hpke.to_bytes()).unwrap(),
            paillier: self.paillier.clone(),
            role: self.role,
            token: self.token.clone(),
        }
    }
}

/// Registers and logs in patients over one connection; returns (index, access token).
async fn register_lane(
    addr: SocketAddr,
    lane: Vec<(usize, SigningKey, String)>,
) -> Vec<(usize, String)> {
    let mut conn = Conn::open(addr).await.unwrap();
    let mut out = Vec::with_capacity(lane.len());
    for (i, key, statement) in lane {
        let body = json!({ "statement": statement }).to_string();
        let idem = format!("register-{i}");
        let res = conn
            .call("POST", "/v1/patients", None, Some(&idem), &body)
            .await;
        assert_eq!(res.status, 201, "patient registration: {}", res.text());
        let actor = key.actor_id().to_string();
        let res = conn
            .call(
                "POST",
                "/v1/auth/challenge",
                None,
                None,
                &json!({"actor": actor}).to_string(),
            )
            .await;
        assert_eq!(res.status, 200, "challenge: {}", res.text());
        let v = res.json();
        let proof = login_proof(
            &key,
            v["challenge"].as_str().unwrap(),
            v["audience"].as_str().unwrap(),
        );
        let body = json!({"actor": actor, "signature": proof}).to_string();
        let res = conn
            .call("POST", "/v1/auth/patient-login", None, None, &body)
            .await;
        assert_eq!(res.status, 200, "patient login: {}", res.text());
        out.push((i, res.json()["access_token"].as_str().unwrap().to_owned()));
    }
    out
}

/// A compact ES256 JWS over a login challenge, as the phone makes it.
fn login_proof(key: &SigningKey, challenge: &str, audience: &str) -> String {
    sign_login_proof(key, challenge, audience, db::now()).unwrap()
}
