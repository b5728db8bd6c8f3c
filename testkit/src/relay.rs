//! The relay backend (feature `relay`): the relay started in-process on a
//! loopback port, over a fresh embedded ledger and a fresh SQLite database,
//! with every statement and query carried through its HTTP API by
//! `carechain-client` sessions — one per actor, as the phone and the staff
//! client hold them.
//!
//! A statement goes to the POST route of its action; a typed query to the
//! GET route that answers it, asked by a party allowed to read it, which the
//! driver learns from the statements it forwarded ([`routes`], the one
//! mapping table). A doctor or insurer is signed up and approved
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

pub mod routes;
mod server;

use std::collections::HashMap;

use actix_web::web;
use carechain_api::db::{self, models::RefreshToken};
use carechain_api::keystore::AdminKeys;
use carechain_api::setup;
use carechain_api::state::AppState;
use carechain_chaincode::ChaincodeError;
use carechain_chaincode::contract::CURRENT_RULES;
use carechain_client::{ClientError, Session};
use carechain_core::envelope::HpkeSecretKey;
use carechain_core::ids::{ActorId, B64};
use carechain_core::ledger::Query;
use carechain_core::statement::{Action, RegisterIdentity, Role, Statement};
use serde_json::{Value, json};

use crate::driver::{Driver, FixedClock, Outcome};
use crate::{AUD, Actor, World};
use routes::{Asker, Parties, post_route};
use server::Server;

/// The relay's first admin's login.
const ADMIN_EMAIL: &str = "admin@example.org";
/// Every password of the driver's accounts.
const PASSWORD: &str = "a-good-password";

/// An account the driver holds a session of.
struct Account {
    id: String,
    session: Session,
}

/// The contract behind the relay's HTTP API; see the module docs.
pub struct RelayDriver {
    rt: tokio::runtime::Runtime,
    server: Server,
    admin_keys: Option<AdminKeys>,
    admin: Option<Account>,
    accounts: HashMap<ActorId, Account>,
    /// Who may read what.
    parties: Parties,
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
            parties: Parties::default(),
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
        if r.role == Role::Patient {
            self.parties.any_patient.get_or_insert(actor.clone());
        }
        self.accounts.insert(actor, Account { id, session });
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
                    "expected audience {AUD:?} and rules {CURRENT_RULES} (the relay's own), \
                     found {config}"
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
        self.parties.learn(&signer, &statement.act);
        Ok(contract_answer(answer))
    }

    fn query(&mut self, query: &Query) -> Outcome {
        let Some(route) = self.parties.get_route(query) else {
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
    /// answered with its first transaction, a patient is stopped at the
    /// insurer's route before the ledger, and a read the contract refuses
    /// is 404, as for an unknown record (no oracle of which ids exist).
    #[test]
    fn the_care_story_through_the_relay_answers_as_the_contract() {
        let mut expected = care_story(&mut World::new(MemoryDriver::new(crate::T0)));
        for (step, answer) in &mut expected.0 {
            let relay: Option<Answer> = match *step {
                "grant replayed" => Some(Ok("ok".into())),
                "paid by the patient" => Some(Err((403, "forbidden".into()))),
                "read without grant" | "read after revoke" => Some(Err((404, "not_found".into()))),
                _ => None,
            };
            if let Some(relay) = relay {
                *answer = relay;
            }
        }
        assert_eq!(care_story(&mut RelayDriver::world()), expected);
    }
}
