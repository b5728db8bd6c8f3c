//! `TestApp`: the relay in-process on a fresh temp SQLite database and a fresh
//! embedded ledger, with actors holding real keys.
#![allow(dead_code)]

use std::future::Future;
use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use actix_web::web;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use serde_json::{Value, json};

use carechain_api::config::Config;
use carechain_api::keystore::AdminKeys;
use carechain_api::push::Push;
use carechain_api::relay::{Relay, RelayBuilder};
use carechain_api::state::AppState;
use carechain_api::{app, db, setup};
use carechain_core::envelope::HpkeSecretKey;
use carechain_core::identity::SigningKey;
use carechain_core::ids::{ActorId, B64};
use carechain_core::paillier::SecretKey;
use carechain_core::protocol::login::sign_login_proof;
use carechain_core::protocol::register::{paillier_registration, registration};
use carechain_core::statement::*;

/// The ledger audience in tests.
pub const LEDGER_AUD: &str = "carechain";
/// The admin's password.
pub const ADMIN_PASSWORD: &str = "admin-password-1";
/// Every doctor's and insurer's password.
pub const STAFF_PASSWORD: &str = "a-good-password";

/// Shared 2048-bit Paillier keys, made once per test binary.
pub fn paillier_key(slot: usize) -> &'static SecretKey {
    static KEYS: OnceLock<Vec<SecretKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0xC0FFEE);
        (0..2)
            .map(|_| SecretKey::generate(2048, &mut rng).expect("paillier keygen"))
            .collect()
    });
    &keys[slot % keys.len()]
}

/// Someone with keys and, once logged in, tokens.
pub struct Actor {
    pub key: SigningKey,
    pub hpke: HpkeSecretKey,
    pub paillier: Option<&'static SecretKey>,
    pub role: Role,
    pub account: String,
    pub token: String,
    pub refresh: String,
    pub email: String,
}

impl Actor {
    pub fn id(&self) -> ActorId {
        self.key.actor_id()
    }

    pub fn registration(&self) -> RegisterIdentity {
        let paillier = self.paillier.map(paillier_registration);
        let name = format!("{:?}", self.role);
        registration(self.role, &self.key, &self.hpke, &name, paillier)
    }

    /// The body of this actor's `POST /v1/accounts` (doctors and insurers).
    pub fn sign_up(&self) -> Value {
        json!({
            "email": self.email,
            "password": STAFF_PASSWORD,
            "role": role_name(self.role),
            "display_name": format!("{:?}", self.role),
            "signing_key": B64(self.key.verifying_key().to_sec1_bytes()).encode(),
            "hpke_key": B64(self.hpke.public_key().to_bytes()).encode(),
        })
    }

    /// The action registering this actor's keys.
    pub fn register(&self) -> Action {
        Action::RegisterIdentity(self.registration())
    }
}

/// A configuration for a test in `dir`.
pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_owned(),
        login_attempts_per_minute: 1000,
        signups_per_client_per_hour: 100_000,
        signups_per_hour: 100_000,
        patient_registrations_per_client_per_hour: 100_000,
        patient_registrations_per_hour: 100_000,
        pool_size: 4,
        ..Config::default()
    }
}

/// `test_config(dir)` on `network`'s gateway: TLS if the network has it,
/// the relay's client identity written to files in `dir`.
pub fn fabric_config(
    network: &carechain_fabric_testpeer::TestNetwork,
    dir: &std::path::Path,
) -> Config {
    use carechain_ledger::fabric::{Deadlines, FabricConfig};
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let identity = network.client_identity();
    let mut config = test_config(dir);
    config.ledger = carechain_api::config::LedgerKind::Fabric;
    config.fabric = Some(FabricConfig {
        peer_endpoint: network.endpoint(),
        tls_root_cert: network.tls_root_pem().map(|pem| write("tls-ca.pem", &pem)),
        server_name_override: Some(network.server_name().to_owned()),
        msp_id: network.msp_id().to_owned(),
        cert: write("cert.pem", &identity.cert_pem),
        key: write("key.pem", &identity.key_pem),
        channel: "mychannel".into(),
        chaincode: "carechain".into(),
        deadlines: Deadlines::default(),
        retries: 3,
        conflict_retries: 3,
    });
    config
}

/// A fresh PostgreSQL database on 127.0.0.1:5432, dropped on drop.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    /// Creates one, or `None` when `CARECHAIN_SKIP_PG=1`.
    pub fn create() -> Option<PgDatabase> {
        use diesel::{Connection as _, RunQueryDsl as _};
        if std::env::var("CARECHAIN_SKIP_PG").as_deref() == Ok("1") {
            eprintln!("CARECHAIN_SKIP_PG=1: skipping the PostgreSQL test");
            return None;
        }
        let name = format!("carechain_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin =
            diesel::PgConnection::establish("postgres://postgres@127.0.0.1:5432/postgres")
                .expect("PostgreSQL on 127.0.0.1:5432 (set CARECHAIN_SKIP_PG=1 to skip)");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
        Some(PgDatabase {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        use diesel::{Connection as _, RunQueryDsl as _};
        if let Ok(mut admin) =
            diesel::PgConnection::establish("postgres://postgres@127.0.0.1:5432/postgres")
        {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// The relay in-process.
pub struct TestApp<S> {
    pub app: S,
    pub state: web::Data<AppState>,
    pub rng: ChaCha20Rng,
    pub admin: Actor,
    counter: u64,
    _dir: Option<tempfile::TempDir>,
}

/// The relay builder tests start from: `config` with a fixed JWT secret, no
/// VAPID key, and no database lock (some tests run two relays on one file).
pub fn test_relay(config: Config) -> RelayBuilder {
    Relay::builder(config)
        .jwt_secret(&[7u8; 32])
        .push(Push::default())
        .shared_database()
}

/// Builds the state for `config` (fresh database, fresh ledger) and initialises the ledger.
pub async fn init_state(
    config: Config,
    database_url: Option<String>,
) -> (web::Data<AppState>, Actor) {
    let relay = test_relay(config);
    match database_url {
        Some(url) => init_with(relay.database_url(url)).await,
        None => init_with(relay).await,
    }
}

/// Opens the state `relay` builds and initialises its ledger with the admin.
pub async fn init_with(mut relay: RelayBuilder) -> (web::Data<AppState>, Actor) {
    let state = web::Data::new(relay.open().unwrap());
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let keys = AdminKeys::generate(&mut rng);
    let account = setup::init_admin(&state, &keys, "admin@example.org", ADMIN_PASSWORD, "Admin")
        .await
        .unwrap();
    let admin = Actor {
        key: keys.signing,
        hpke: keys.hpke,
        paillier: None,
        role: Role::Admin,
        account: account.id,
        token: String::new(),
        refresh: String::new(),
        email: "admin@example.org".into(),
    };
    (state, admin)
}

/// Starts a fresh relay on a temp SQLite database.
pub async fn start() -> TestApp<impl RelayApp> {
    start_configured(|_| {}).await
}

/// Starts a fresh relay (temp SQLite, fresh ledger) on `test_config` as
/// `configure` changes it (its `data_dir` is the temp directory).
pub async fn start_configured(configure: impl FnOnce(&mut Config)) -> TestApp<impl RelayApp> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    configure(&mut config);
    let (state, admin) = init_state(config, None).await;
    start_with(state, admin, Some(dir)).await
}

/// Starts the relay over an existing state.
pub async fn start_with(
    state: web::Data<AppState>,
    admin: Actor,
    dir: Option<tempfile::TempDir>,
) -> TestApp<impl RelayApp> {
    let service =
        actix_web::test::init_service(app::app(state.clone(), app::metrics().unwrap())).await;
    let mut app = TestApp {
        app: service,
        state,
        rng: ChaCha20Rng::seed_from_u64(5),
        admin,
        counter: 0,
        _dir: dir,
    };
    let (token, refresh) = app
        .password_login("admin@example.org", ADMIN_PASSWORD)
        .await;
    app.admin.token = token;
    app.admin.refresh = refresh;
    app
}

/// A response: status, headers' content type, JSON body (Null if none).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    /// Whether the answer is marked `Idempotent-Replayed: true`.
    pub replayed: bool,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The value of header `name`, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem answer with `status`.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.content_type, "application/problem+json", "{self:?}");
    }

    /// Asserts an RFC 9457 problem with `status` whose type is `code`.
    #[track_caller]
    pub fn assert_problem_of(&self, status: StatusCode, code: &str) {
        self.assert_problem(status);
        assert_eq!(
            self.body["type"],
            format!("https://carechain.dev/problems/{code}"),
            "{self:?}"
        );
        assert_eq!(self.body["status"], status.as_u16());
    }
}

/// Something a test request can be sent to: the relay's service, however built.
pub trait RelayApp {
    /// Sends `req` and reads the whole answer.
    fn answer(&self, req: TestRequest) -> impl Future<Output = Reply>;
}

impl<S, B> RelayApp for S
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    async fn answer(&self, req: TestRequest) -> Reply {
        let res = actix_web::test::call_service(self, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = actix_web::test::read_body(res).await;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        Reply {
            status,
            content_type: header("content-type").unwrap_or("").to_owned(),
            replayed: header("idempotent-replayed") == Some("true"),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            headers,
        }
    }
}

/// Signs `act` with `key` for the ledger, issued now for five minutes.
pub fn sign(rng: &mut ChaCha20Rng, key: &SigningKey, act: Action) -> String {
    Statement::new(key.actor_id(), LEDGER_AUD, act, db::now(), 300, rng)
        .sign(key)
        .unwrap()
}

impl<S: RelayApp> TestApp<S> {
    /// Sends a request: JSON body, optional bearer token, optional idempotency key.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> Reply {
        let mut req = TestRequest::default().method(method).uri(path);
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        if let Some(key) = idem {
            req = req.insert_header(("Idempotency-Key", key.to_owned()));
        }
        if let Some(body) = body {
            req = req.set_json(body);
        }
        self.raw(req).await
    }

    /// Sends a prepared request.
    pub async fn raw(&self, req: TestRequest) -> Reply {
        self.app.answer(req).await
    }

    /// POSTs a JSON body with neither token nor idempotency key (the auth routes).
    pub async fn post_plain(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, None, Some(body), None).await
    }

    /// Asks for new tokens with `refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        self.post_plain(
            "/v1/auth/refresh",
            json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None, None).await
    }

    /// POSTs a JSON body with a fresh idempotency key.
    pub async fn post(&mut self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.counter += 1;
        let key = format!("k{}", self.counter);
        self.send(Method::POST, path, token, Some(body), Some(&key))
            .await
    }

    /// POSTs `statement` (a fresh idempotency key) with `token`.
    pub async fn post_statement(
        &mut self,
        path: &str,
        token: Option<&str>,
        statement: &str,
    ) -> Reply {
        self.post(path, token, json!({ "statement": statement }))
            .await
    }

    /// Signs `act` with `key` for the ledger.
    pub fn sign(&mut self, key: &SigningKey, act: Action) -> String {
        sign(&mut self.rng, key, act)
    }

    /// Signs `act` with the admin's key.
    pub fn sign_as_admin(&mut self, act: Action) -> String {
        sign(&mut self.rng, &self.admin.key, act)
    }

    /// Signs `act` as `actor` and POSTs it to `path` with the actor's token.
    pub async fn post_signed(&mut self, path: &str, actor: &Actor, act: Action) -> Reply {
        let statement = self.sign(&actor.key, act);
        self.post_statement(path, Some(&actor.token), &statement)
            .await
    }

    /// Signs `act` as the admin and POSTs it to `path` with the admin's token.
    pub async fn post_as_admin(&mut self, path: &str, act: Action) -> Reply {
        let statement = self.sign_as_admin(act);
        let token = self.admin.token.clone();
        self.post_statement(path, Some(&token), &statement).await
    }

    /// The admin approves `actor`'s account by registering its keys.
    pub async fn approve(&mut self, actor: &Actor) -> Reply {
        let path = format!("/v1/admin/accounts/{}/approve", actor.account);
        self.post_as_admin(&path, actor.register()).await
    }

    /// A password login's reply.
    pub async fn login_reply(&self, email: &str, password: &str) -> Reply {
        self.post_plain(
            "/v1/auth/login",
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// Logs in with a password: access and refresh token.
    pub async fn password_login(&self, email: &str, password: &str) -> (String, String) {
        tokens(&self.login_reply(email, password).await)
    }

    pub fn new_actor(&mut self, role: Role, paillier: Option<&'static SecretKey>) -> Actor {
        Actor {
            key: SigningKey::generate(&mut self.rng),
            hpke: HpkeSecretKey::generate(&mut self.rng),
            paillier,
            role,
            account: String::new(),
            token: String::new(),
            refresh: String::new(),
            email: String::new(),
        }
    }

    /// A doctor or insurer that signed up, still pending.
    pub async fn signed_up(&mut self, role: Role) -> Actor {
        let mut actor = self.new_actor(role, None);
        self.counter += 1;
        actor.email = format!("{}{}@example.org", role_name(role), self.counter);
        let reply = self.post_plain("/v1/accounts", actor.sign_up()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        actor.account = reply.body["id"].as_str().unwrap().to_owned();
        actor
    }

    /// A doctor or insurer, approved by the admin and logged in.
    pub async fn approved(&mut self, role: Role) -> Actor {
        let mut actor = self.signed_up(role).await;
        let reply = self.approve(&actor).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        (actor.token, actor.refresh) = self.password_login(&actor.email, STAFF_PASSWORD).await;
        actor
    }

    /// A patient's keys, not registered anywhere.
    pub fn new_patient_keys(&mut self, slot: usize) -> Actor {
        self.new_actor(Role::Patient, Some(paillier_key(slot)))
    }

    /// A registered, logged-in patient using Paillier key `slot`.
    pub async fn patient(&mut self, slot: usize) -> Actor {
        let mut actor = self.new_patient_keys(slot);
        let statement = self.sign(&actor.key, actor.register());
        let reply = self.post_statement("/v1/patients", None, &statement).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        actor.account = reply.body["account_id"].as_str().unwrap().to_owned();
        (actor.token, actor.refresh) = self.patient_login(&actor).await;
        actor
    }

    /// A login challenge for `actor`: the challenge and the audience to sign it for.
    pub async fn challenge(&self, actor: &Actor) -> (String, String) {
        let reply = self
            .post_plain(
                "/v1/auth/challenge",
                json!({"actor": actor.id().to_string()}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let field = |name: &str| reply.body[name].as_str().unwrap().to_owned();
        (field("challenge"), field("audience"))
    }

    /// A patient login of `actor` with a login proof `signature`.
    pub async fn patient_login_reply(&self, actor: &Actor, signature: &str) -> Reply {
        self.post_plain(
            "/v1/auth/patient-login",
            json!({"actor": actor.id().to_string(), "signature": signature}),
        )
        .await
    }

    /// The patient's signed challenge login.
    pub async fn patient_login(&self, actor: &Actor) -> (String, String) {
        let (challenge, audience) = self.challenge(actor).await;
        let signature = login_proof(actor, &challenge, &audience, 0);
        tokens(&self.patient_login_reply(actor, &signature).await)
    }
}

/// The access and refresh tokens of a successful login.
#[track_caller]
pub fn tokens(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let token = |name: &str| reply.body[name].as_str().unwrap().to_owned();
    (token("access_token"), token("refresh_token"))
}

/// A role's name in the API (`doctor`, `insurer`, …).
pub fn role_name(role: Role) -> String {
    format!("{role:?}").to_lowercase()
}

/// A compact ES256 JWS by the actor over a login challenge, issued `offset` seconds from now.
pub fn login_proof(actor: &Actor, challenge: &str, audience: &str, offset: i64) -> String {
    sign_login_proof(&actor.key, challenge, audience, db::now() + offset).unwrap()
}

/// Flips a byte of a JWS signature.
pub fn tamper(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    bytes[5] ^= 1;
    format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes))
}
