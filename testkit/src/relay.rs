//! The relay backend (feature `relay`): the relay started in-process on a
//! loopback port, over a fresh embedded ledger and a fresh SQLite database,
//! with every statement and query carried through its HTTP API by
//! `carechain-client` sessions — one per actor, as the phone and the staff
//! client hold them.
//!
//! A statement goes to the POST route of its action ([`post_route`]); a
//! typed query to the GET route that answers it ([`RelayDriver::get_route`]),
//! asked by a party allowed to read it, which the driver learns from the
//! statements it forwarded. A doctor or insurer is signed up and approved
//! through the API and logs in with a password. A patient registers through
//! the API; the challenge login needs the patient's key, which a driver never
//! sees, so the driver stores a refresh token through the relay's own token
//! repository and the session starts from it. The clock is the wall clock.
//!
//! The relay answers as the contract does, with two differences a scenario
//! must allow for: a statement sent again is answered with its first
//! transaction (not refused as a replayed nonce), and a 401, 403 or 404
//! keeps only its class (`unauthorized`, `forbidden`, `not_found`), as the
//! client reports it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::mpsc;

use actix_web::dev::ServerHandle;
use actix_web::{HttpServer, web};
use carechain_api::config::Config;
use carechain_api::db::{self, models::RefreshToken};
use carechain_api::keystore::AdminKeys;
use carechain_api::state::{AppState, open_ledger};
use carechain_api::{app, setup};
use carechain_chaincode::ChaincodeError;
use carechain_chaincode::contract::CURRENT_RULES;
use carechain_client::{ClientError, Session};
use carechain_core::envelope::HpkeSecretKey;
use carechain_core::ids::{ActorId, B64};
use carechain_core::ledger::{PageArgs, Query};
use carechain_core::statement::{AccessAction, Action, RegisterIdentity, Role, Statement};
use serde_json::{Value, json};

use crate::driver::{Driver, FixedClock, Outcome};
use crate::{AUD, Actor, World};

/// The relay's first admin's login.
const ADMIN_EMAIL: &str = "admin@example.org";
/// Every password of the driver's accounts.
const PASSWORD: &str = "a-good-password";

/// The POST route of a statement's action (relative to the relay's base URL);
/// `None` for a registration, which [`RelayDriver::register`] routes by who signed it.
pub fn post_route(act: &Action, account_of: impl Fn(&ActorId) -> String) -> Option<String> {
    Some(match act {
        Action::RegisterIdentity(_) => return None,
        Action::SuspendIdentity(s) => format!("v1/admin/accounts/{}/suspend", account_of(&s.actor)),
        Action::AccessRequest(_) => "v1/requests".into(),
        Action::Grant(g) => format!("v1/requests/{}/grant", g.request),
        Action::Deny(d) => format!("v1/requests/{}/deny", d.request),
        Action::Revoke(r) => format!("v1/requests/{}/revoke", r.request),
        Action::WriteRecord(_) => "v1/records".into(),
        Action::ReadRecord(r) => format!("v1/records/{}/read", r.record),
        Action::PublishProduct(_) => "v1/products".into(),
        Action::PurchasePolicy(_) => "v1/policies".into(),
        Action::IssuePolicy(i) => format!("v1/policies/{}/issue", i.policy),
        Action::FileClaim(_) => "v1/claims".into(),
        Action::MarkPaid(m) => format!("v1/claims/{}/paid", m.claim),
    })
}

/// Who asks a query: the admin or a party of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Asker {
    Admin,
    Actor(ActorId),
}

/// A GET route answering a query: the path, who asks it, and which field
/// of the answer is the contract's (`None`: all of it).
struct GetRoute {
    path: String,
    asker: Asker,
    field: Option<&'static str>,
}

/// `path` with a page's `limit` and `after`.
fn paged(path: &str, page: &PageArgs) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    match &page.after {
        Some(after) => format!("{path}{sep}limit={}&after={after}", page.limit),
        None => format!("{path}{sep}limit={}", page.limit),
    }
}

/// An account the driver holds a session of.
struct Account {
    id: String,
    role: Role,
    session: Session,
}

/// The relay running on its own thread (an actix system) until dropped.
struct Server {
    addr: SocketAddr,
    state: web::Data<AppState>,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// A relay on a fresh temp directory, signing statements' audience `AUD`.
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("a temp directory");
        let config = Config {
            data_dir: dir.path().to_owned(),
            ledger_audience: AUD.into(),
            login_attempts_per_minute: 10_000,
            pool_size: 4,
            ..Config::default()
        };
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let pool = db::connect(&config.database_url(), config.pool_size).unwrap();
                let ledger = open_ledger(&config).unwrap();
                let state = web::Data::new(AppState::new(config, pool, ledger, &[7u8; 32]));
                let metrics = app::metrics().unwrap();
                let shared = state.clone();
                let server = HttpServer::new(move || app::app(shared.clone(), metrics.clone()))
                    .workers(1)
                    .shutdown_timeout(1)
                    .disable_signals()
                    .bind(("127.0.0.1", 0))
                    .unwrap();
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, state, server.handle())).unwrap();
                server.await.unwrap();
            });
        });
        let (addr, state, handle) = rx.recv().expect("the relay starts");
        Server {
            addr,
            state,
            handle,
            thread: Some(thread),
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The server's own system waits for the stop; this one only asks.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The contract behind the relay's HTTP API; see the module docs.
pub struct RelayDriver {
    rt: tokio::runtime::Runtime,
    server: Server,
    admin_keys: Option<AdminKeys>,
    admin: Option<Account>,
    accounts: HashMap<ActorId, Account>,
    /// The party that may read each object the driver forwarded (by id).
    parties: HashMap<String, ActorId>,
    /// Each access request's doctor.
    doctors: HashMap<String, ActorId>,
    /// For each patient, a doctor with a write grant (who may list its readers).
    writers: HashMap<ActorId, ActorId>,
    signups: u64,
}

impl RelayDriver {
    /// A fresh relay, not initialised.
    pub fn start() -> RelayDriver {
        RelayDriver {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime"),
            server: Server::start(),
            admin_keys: None,
            admin: None,
            accounts: HashMap::new(),
            parties: HashMap::new(),
            doctors: HashMap::new(),
            writers: HashMap::new(),
            signups: 0,
        }
    }

    /// A world on a fresh relay whose first admin is the world's admin.
    pub fn world() -> World<RelayDriver> {
        let mut world = World::uninitialised(RelayDriver::start());
        world.driver.admin_keys = Some(AdminKeys {
            signing: world.admin.signing_key(),
            hpke: HpkeSecretKey::from_bytes(&world.admin.hpke.to_bytes()).unwrap(),
        });
        let token = world.admin_registration();
        let config = crate::config(Some(CURRENT_RULES));
        world.driver.init(&config, &token).expect("init");
        world
    }

    /// The relay's state (its database pool, ledger and token keys).
    pub fn state(&self) -> &web::Data<AppState> {
        &self.server.state
    }

    /// A session with the relay, not logged in.
    fn session(&self) -> Session {
        Session::new(&format!("http://{}", self.server.addr), AUD).expect("a session")
    }

    /// The account of `actor` (panics for an actor the driver never registered).
    fn account(&self, actor: &ActorId) -> &Account {
        self.accounts
            .get(actor)
            .unwrap_or_else(|| panic!("{actor} has no account on the relay"))
    }

    fn asker(&self, asker: &Asker) -> &Session {
        match asker {
            Asker::Admin => &self.admin.as_ref().expect("an initialised relay").session,
            Asker::Actor(actor) => &self.account(actor).session,
        }
    }

    /// A party of object `id`, or any patient (who is then told it is not found).
    fn party(&self, id: &str) -> Asker {
        let any = || {
            let mut patients = self
                .accounts
                .iter()
                .filter(|(_, a)| a.role == Role::Patient);
            patients.next().map(|(actor, _)| actor.clone())
        };
        let party = self.parties.get(id).cloned().or_else(any);
        party.map_or(Asker::Admin, Asker::Actor)
    }

    /// The GET route answering `query`, or `None` where the API has none
    /// (the configuration, a statement's use, another reader's key, own keys).
    fn get_route(&self, query: &Query) -> Option<GetRoute> {
        let me = |actor: &str| actor.parse().map(Asker::Actor).ok();
        let route = |path: String, asker: Option<Asker>, field| {
            asker.map(|asker| GetRoute { path, asker, field })
        };
        let admin = Some(Asker::Admin);
        match query {
            Query::Config {} | Query::Statement { .. } | Query::OwnKeys { .. } => None,
            Query::Identity { actor } => route(format!("v1/identities/{actor}"), admin, None),
            Query::Request { request } => route(
                format!("v1/requests/{request}"),
                Some(self.party(request)),
                None,
            ),
            Query::RequestsForPatient { patient: who, page }
            | Query::RequestsByDoctor { doctor: who, page } => {
                route(paged("v1/requests", page), me(who), None)
            }
            Query::Record { record } => route(
                format!("v1/records/{record}"),
                Some(self.party(record)),
                Some("record"),
            ),
            Query::RecordKey { record, reader } => {
                let asker = me(reader).filter(|asker| *asker == self.party(record));
                route(format!("v1/records/{record}"), asker, Some("key"))
            }
            Query::RecordsForPatient { patient, page } => {
                route(paged("v1/patients/me/records", page), me(patient), None)
            }
            Query::RecordsWithKeys {
                patient,
                reader,
                page,
            } if patient == reader => {
                route(paged("v1/patients/me/records", page), me(patient), None)
            }
            Query::RecordsWithKeys {
                patient,
                reader,
                page,
            } => route(
                paged(&format!("v1/patients/{patient}/records"), page),
                me(reader),
                None,
            ),
            Query::Readers { patient, category } => {
                let category = serde_json::to_value(category).ok()?;
                let path = format!(
                    "v1/patients/{patient}/readers?category={}",
                    category.as_str()?
                );
                let writer = self.writers.get(patient).cloned().map(Asker::Actor);
                route(path, writer, None)
            }
            Query::AccessLog { patient, page } => {
                route(paged("v1/patients/me/access-log", page), me(patient), None)
            }
            Query::Product { product } => route(format!("v1/products/{product}"), admin, None),
            Query::Products { page } => route(paged("v1/products", page), admin, None),
            Query::Policy { policy } => route(
                format!("v1/policies/{policy}"),
                Some(self.party(policy)),
                None,
            ),
            Query::PoliciesForPatient { patient: who, page }
            | Query::PoliciesForInsurer { insurer: who, page } => {
                route(paged("v1/policies", page), me(who), None)
            }
            Query::Claim { claim } => {
                route(format!("v1/claims/{claim}"), Some(self.party(claim)), None)
            }
            Query::ClaimsForPatient { patient: who, page }
            | Query::ClaimsForInsurer { insurer: who, page } => {
                route(paged("v1/claims", page), me(who), None)
            }
        }
    }

    /// Remembers who may read what `act` (signed by `signer`) creates.
    fn learn(&mut self, signer: &ActorId, act: &Action) {
        match act {
            Action::AccessRequest(r) => {
                self.parties
                    .insert(r.request.to_string(), r.patient.clone());
                self.doctors.insert(r.request.to_string(), signer.clone());
            }
            Action::Grant(g) if g.actions.contains(&AccessAction::Write) => {
                if let Some(doctor) = self.doctors.get(&g.request.to_string()) {
                    self.writers.insert(signer.clone(), doctor.clone());
                }
            }
            Action::WriteRecord(w) => {
                self.parties.insert(w.record.to_string(), w.patient.clone());
            }
            Action::PurchasePolicy(p) => {
                self.parties.insert(p.policy.to_string(), signer.clone());
            }
            Action::FileClaim(c) => {
                self.parties.insert(c.claim.to_string(), signer.clone());
            }
            _ => {}
        }
    }

    /// Runs `f` on the driver's runtime.
    fn block<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    /// A registration: a patient's own through `POST /v1/patients`; a
    /// doctor's or insurer's, signed by the admin, as a sign-up the admin
    /// approves; then the new account's session logs in.
    fn register(&mut self, signer: &ActorId, token: &str, r: &RegisterIdentity) -> Outcome {
        let actor = r.signing_key.actor_id();
        let session = self.session();
        let id = if *signer == actor {
            let registered: Value = self
                .block(session.post_anonymous("v1/patients", &json!({ "statement": token })))
                .map_err(refusal)?;
            let id = registered["account_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let refresh = self.refresh_token(&id, &actor);
            self.block(session.resume(&refresh)).map_err(refusal)?;
            id
        } else {
            self.signups += 1;
            let role = serde_json::to_value(r.role).unwrap();
            let email = format!(
                "{}{}@example.org",
                role.as_str().unwrap_or("staff"),
                self.signups
            );
            let signup = json!({
                "email": email,
                "password": PASSWORD,
                "role": role,
                "display_name": r.display_name,
                "signing_key": B64(r.signing_key.to_sec1_bytes()).encode(),
                "hpke_key": r.hpke_key.encode(),
            });
            let created: Value = self
                .block(session.post_anonymous("v1/accounts", &signup))
                .map_err(refusal)?;
            let id = created["id"].as_str().unwrap_or_default().to_owned();
            let path = format!("v1/admin/accounts/{id}/approve");
            self.block(
                self.asker(&Asker::Admin)
                    .submit::<Value>(&path, token.to_owned()),
            )
            .map_err(refusal)?;
            self.block(session.login_with_password(&email, PASSWORD))
                .map_err(refusal)?;
            id
        };
        let role = r.role;
        self.accounts.insert(actor, Account { id, role, session });
        Ok(json!({ "registered": r.role == Role::Patient }))
    }

    /// A refresh token for `account`, stored as the relay stores one after a login.
    fn refresh_token(&self, account: &str, actor: &ActorId) -> String {
        let (token, token_hash) = carechain_api::auth::tokens::new_refresh_token();
        let now = db::now();
        let row = RefreshToken {
            id: format!("driver-{actor}"),
            account_id: account.to_owned(),
            family: format!("driver-{actor}"),
            token_hash,
            expires_at: now + 86_400,
            used_at: None,
            revoked_at: None,
            created_at: now,
        };
        let mut conn = self.state().pool.get().expect("a database connection");
        db::tokens::insert_refresh(&mut conn, &row).expect("a refresh token");
        token
    }
}

/// A relay refusal as the contract's: its status and code.
fn refusal(err: ClientError) -> ChaincodeError {
    let (status, code) = match &err {
        ClientError::Unauthenticated { .. } => (401, "unauthorized".to_owned()),
        ClientError::Forbidden { .. } => (403, "forbidden".to_owned()),
        ClientError::NotFound { .. } => (404, "not_found".to_owned()),
        ClientError::RateLimited { .. } => (429, "rate_limited".to_owned()),
        ClientError::Ledger { status, code, .. } => (*status, code.as_str().to_owned()),
        ClientError::Refused { status, code, .. } => (*status, code.clone()),
        _ => (500, "relay".to_owned()),
    };
    ChaincodeError {
        status,
        code,
        message: err.to_string(),
    }
}

/// The contract's answer inside the relay's: a submission's `result`, or a
/// doctor's read without its `tx_id`.
fn contract_answer(mut answer: Value) -> Value {
    match answer.get_mut("result") {
        Some(result) => result.take(),
        None => {
            if let Some(map) = answer.as_object_mut() {
                map.remove("tx_id");
            }
            answer
        }
    }
}

impl Driver for RelayDriver {
    /// The relay's own first start (`setup::init_admin`) with the admin keys
    /// of [`RelayDriver::world`], under the current storage rules; the
    /// admin's token registers the same keys and is not sent again.
    fn init(&mut self, config: &[u8], _admin_token: &str) -> Outcome {
        let config: Value = serde_json::from_slice(config).unwrap_or_default();
        let wanted = config["rules"].as_u64();
        if config["audience"] != AUD || wanted != Some(u64::from(CURRENT_RULES)) {
            return Err(ChaincodeError {
                status: 400,
                code: "bad_request".into(),
                message: format!(
                    "the relay starts its ledger for {AUD:?} under rules {CURRENT_RULES}, not {config}"
                ),
            });
        }
        let keys = self
            .admin_keys
            .take()
            .expect("RelayDriver::world gives the admin's keys");
        let state = self.state().clone();
        let account = self
            .block(setup::init_admin(
                &state,
                &keys,
                ADMIN_EMAIL,
                PASSWORD,
                "Admin",
            ))
            .map_err(|e| ChaincodeError {
                status: 500,
                code: "init".into(),
                message: e.to_string(),
            })?;
        let session = self.session();
        self.block(session.login_with_password(ADMIN_EMAIL, PASSWORD))
            .map_err(refusal)?;
        self.admin = Some(Account {
            id: account.id,
            role: Role::Admin,
            session,
        });
        Ok(json!({ "admin": keys.signing.actor_id() }))
    }

    fn submit(&mut self, token: &str) -> Outcome {
        let statement = Statement::peek(token).map_err(|e| ChaincodeError {
            status: 400,
            code: "bad_request".into(),
            message: e.to_string(),
        })?;
        let signer = statement.iss;
        if let Action::RegisterIdentity(r) = &statement.act {
            return self.register(&signer, token, r);
        }
        let accounts = &self.accounts;
        let account_of = |actor: &ActorId| {
            accounts
                .get(actor)
                .map_or_else(String::new, |a| a.id.clone())
        };
        let path = post_route(&statement.act, account_of).expect("a routed action");
        let session = match self.accounts.get(&signer) {
            Some(account) => &account.session,
            None => self.asker(&Asker::Admin),
        };
        let answer: Value = self
            .block(session.submit(&path, token.to_owned()))
            .map_err(refusal)?;
        self.learn(&signer, &statement.act);
        Ok(contract_answer(answer))
    }

    fn query(&mut self, query: &Query) -> Outcome {
        let Some(route) = self.get_route(query) else {
            return Err(ChaincodeError {
                status: 501,
                code: "no_route".into(),
                message: format!("the relay has no GET route answering {}", query.name()),
            });
        };
        let answer: Value = self
            .block(self.asker(&route.asker).get(&route.path))
            .map_err(refusal)?;
        Ok(match route.field {
            Some(field) => answer[field].clone(),
            None => answer,
        })
    }

    fn now(&self) -> i64 {
        db::now()
    }

    fn set_now(&mut self, seconds: i64) -> Result<(), FixedClock> {
        Err(FixedClock {
            backend: "relay",
            wanted: seconds,
        })
    }
}

/// An actor's account id on the relay, for tests that call the API themselves.
impl RelayDriver {
    /// The relay's account id of `actor`, if the driver registered it.
    pub fn account_id(&self, actor: &Actor) -> Option<&str> {
        self.accounts.get(&actor.id()).map(|a| a.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryDriver;
    use crate::scenario::{Answer, care_story};

    /// The care story through the relay answers as on the in-memory state,
    /// but for what the relay settles itself: a statement sent again is
    /// answered with its first transaction, and a patient is stopped at the
    /// insurer's route before the ledger.
    #[test]
    fn the_care_story_through_the_relay_answers_as_the_contract() {
        let mut expected = care_story(&mut World::new(MemoryDriver::new(crate::T0)));
        for (step, answer) in &mut expected.0 {
            let relay: Option<Answer> = match *step {
                "grant replayed" => Some(Ok("ok".into())),
                "paid by the patient" => Some(Err((403, "forbidden".into()))),
                _ => None,
            };
            if let Some(relay) = relay {
                *answer = relay;
            }
        }
        assert_eq!(care_story(&mut RelayDriver::world()), expected);
    }
}
