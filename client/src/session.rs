//! [`Session`]: one authenticated connection to one relay. It owns the HTTP
//! client (reqwest with rustls), the bearer and refresh tokens and how to
//! log in again, so that every operation is a single call:
//!
//! - a POST gets a fresh `Idempotency-Key`, reused when it is retried, so a
//!   retried POST is never applied twice;
//! - a 401 refreshes the token (or logs in again) once and retries;
//! - a transport failure or a 502/503/504 is retried twice with backoff;
//! - errors are RFC 9457 problems decoded into [`ClientError`], a 429 with
//!   its `Retry-After`;
//! - lists are paged through `{items, next}` until the end.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use carechain_core::identity::SigningKey;
use carechain_core::protocol::login::sign_login_proof;
use carechain_core::wallet::Wallet;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;
use zeroize::Zeroizing;

use crate::error::{ClientError, Problem, from_problem};
#[cfg(doc)]
use crate::wire::Submitted;
use crate::wire::{Challenge, Tokens};
use carechain_core::ledger::Page;

/// The patient's wallet, shared with the app (which seals it after changes).
pub type SharedWallet = Arc<Mutex<Wallet>>;

/// How many times a transport failure or a 502/503/504 is retried.
const RETRIES: u32 = 2;
/// The largest page a list asks for.
const PAGE_LIMIT: u32 = 100;

/// How the session logs in (again).
enum Credentials {
    /// Not yet logged in.
    None,
    /// A doctor, insurer or admin account.
    Password {
        email: String,
        password: Zeroizing<String>,
    },
    /// A patient: the relay's challenge signed by the wallet's key.
    Patient(SharedWallet),
}

/// The tokens of the current login.
#[derive(Default)]
struct HeldTokens {
    access: Option<String>,
    refresh: Option<String>,
}

/// One relay, one account.
pub struct Session {
    http: reqwest::Client,
    base: Url,
    ledger_audience: String,
    credentials: Mutex<Credentials>,
    tokens: Mutex<HeldTokens>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("base", &self.base.as_str())
            .field("ledger_audience", &self.ledger_audience)
            .finish_non_exhaustive()
    }
}

/// The current time in Unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Locks the shared wallet.
pub(crate) fn lock(
    wallet: &SharedWallet,
) -> Result<std::sync::MutexGuard<'_, Wallet>, ClientError> {
    wallet.lock().map_err(|_| {
        ClientError::Internal("the wallet lock was poisoned by an earlier panic".into())
    })
}

impl Session {
    /// A session with the relay at `base_url` (`https://…`; `http://` for
    /// loopback tests) whose statements are signed for `ledger_audience`.
    pub fn new(base_url: &str, ledger_audience: &str) -> Result<Self, ClientError> {
        let invalid = ClientError::InvalidInput;
        let mut base =
            Url::parse(base_url).map_err(|e| invalid(format!("base_url: {e}: {base_url:?}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "base_url: expected an http(s) URL, found scheme {:?}",
                base.scheme()
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        if ledger_audience.is_empty() {
            return Err(invalid(
                "ledger_audience: expected a non-empty audience".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ClientError::Internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Session {
            http,
            base,
            ledger_audience: ledger_audience.to_owned(),
            credentials: Mutex::new(Credentials::None),
            tokens: Mutex::new(HeldTokens::default()),
        })
    }

    /// The relay's base URL, ending in `/`.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The ledger audience statements are signed for.
    pub fn ledger_audience(&self) -> &str {
        &self.ledger_audience
    }

    /// The absolute URL of `path` (relative, no leading slash).
    pub fn url(&self, path: &str) -> Result<Url, ClientError> {
        self.base
            .join(path)
            .map_err(|e| ClientError::InvalidInput(format!("{path}: {e}")))
    }

    /// Logs in with an account's e-mail and password; the session logs in
    /// again with them when its tokens run out.
    pub async fn login_with_password(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(), ClientError> {
        let tokens = self.password_login(email, password).await?;
        self.set_credentials(Credentials::Password {
            email: email.to_owned(),
            password: Zeroizing::new(password.to_owned()),
        });
        self.store(tokens);
        Ok(())
    }

    /// Logs in as the patient of `wallet` (the relay's challenge, signed by
    /// the wallet's key); the session logs in again the same way when needed.
    pub async fn login_as_patient(&self, wallet: SharedWallet) -> Result<(), ClientError> {
        let tokens = self.patient_login(&wallet).await?;
        self.set_credentials(Credentials::Patient(wallet));
        self.store(tokens);
        Ok(())
    }

    /// Remembers the patient's wallet to log in with on first use, without a request.
    pub fn use_patient_wallet(&self, wallet: SharedWallet) {
        self.set_credentials(Credentials::Patient(wallet));
    }

    fn set_credentials(&self, credentials: Credentials) {
        if let Ok(mut c) = self.credentials.lock() {
            *c = credentials;
        }
    }

    fn store(&self, tokens: Tokens) {
        if let Ok(mut t) = self.tokens.lock() {
            t.access = Some(tokens.access_token);
            t.refresh = tokens.refresh_token;
        }
    }

    async fn password_login(&self, email: &str, password: &str) -> Result<Tokens, ClientError> {
        let body = json!({"email": email, "password": password});
        self.send(Method::POST, "v1/auth/login", Some(&body), None, None)
            .await
    }

    async fn patient_login(&self, wallet: &SharedWallet) -> Result<Tokens, ClientError> {
        let actor = lock(wallet)?.actor_id();
        let challenge: Challenge = self
            .send(
                Method::POST,
                "v1/auth/challenge",
                Some(&json!({"actor": actor})),
                None,
                None,
            )
            .await?;
        let signature = {
            let w = lock(wallet)?;
            sign_login_proof(
                w.signing_key(),
                &challenge.challenge,
                &challenge.audience,
                now(),
            )?
        };
        let body = json!({"actor": actor, "signature": signature});
        self.send(
            Method::POST,
            "v1/auth/patient-login",
            Some(&body),
            None,
            None,
        )
        .await
    }

    /// Logs in again with the stored credentials.
    async fn relogin(&self) -> Result<String, ClientError> {
        let refresh = self.tokens.lock().ok().and_then(|mut t| {
            t.access = None;
            t.refresh.take()
        });
        if let Some(refresh_token) = refresh {
            let body = json!({ "refresh_token": refresh_token });
            if let Ok(tokens) = self
                .send::<Tokens>(Method::POST, "v1/auth/refresh", Some(&body), None, None)
                .await
            {
                let access = tokens.access_token.clone();
                self.store(tokens);
                return Ok(access);
            }
        }
        enum How {
            Password(String, Zeroizing<String>),
            Patient(SharedWallet),
        }
        let how = match &*self
            .credentials
            .lock()
            .map_err(|_| ClientError::Internal("the credentials lock was poisoned".into()))?
        {
            Credentials::None => None,
            Credentials::Password { email, password } => {
                Some(How::Password(email.clone(), password.clone()))
            }
            Credentials::Patient(wallet) => Some(How::Patient(wallet.clone())),
        };
        let tokens = match how {
            None => {
                return Err(ClientError::Unauthenticated {
                    detail: "not logged in".into(),
                });
            }
            Some(How::Password(email, password)) => self.password_login(&email, &password).await?,
            Some(How::Patient(wallet)) => self.patient_login(&wallet).await?,
        };
        let access = tokens.access_token.clone();
        self.store(tokens);
        Ok(access)
    }

    /// A valid access token, logging in first if there is none (the event
    /// socket authenticates with it).
    pub async fn access_token(&self) -> Result<String, ClientError> {
        let current = self.tokens.lock().ok().and_then(|t| t.access.clone());
        match current {
            Some(token) => Ok(token),
            None => self.relogin().await,
        }
    }

    /// Forgets the access token (after a 401 elsewhere), so the next call logs in again.
    pub fn forget_token(&self) {
        if let Ok(mut t) = self.tokens.lock() {
            t.access = None;
        }
    }

    /// A GET as the logged-in account.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.authed(Method::GET, path, None::<&Value>, None).await
    }

    /// One page of the list at `path` (which may carry a query).
    pub async fn page<T: DeserializeOwned>(
        &self,
        path: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<T>, ClientError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let path = match after {
            Some(cursor) => format!("{path}{sep}limit={limit}&after={cursor}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        self.get(&path).await
    }

    /// Every item of the list at `path`, page by page.
    pub async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page: Page<T> = self.page(path, after.as_deref(), PAGE_LIMIT).await?;
            items.extend(page.items);
            match page.next {
                Some(next) if Some(&next) != after.as_ref() => after = Some(next),
                _ => return Ok(items),
            }
        }
    }

    /// A POST as the logged-in account under a fresh `Idempotency-Key`
    /// (one per logical POST: every retry of it sends the same).
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ClientError> {
        self.authed(Method::POST, path, Some(body), Some(&idempotency_key()))
            .await
    }

    /// POSTs a signed statement as the logged-in account; the relay's answer
    /// (a [`Submitted`] for most routes).
    pub async fn submit<T: DeserializeOwned>(
        &self,
        path: &str,
        statement: String,
    ) -> Result<T, ClientError> {
        self.post(path, &json!({ "statement": statement })).await
    }

    /// An anonymous POST (sign-up, patient registration) under a fresh `Idempotency-Key`.
    pub async fn post_anonymous<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ClientError> {
        self.send(
            Method::POST,
            path,
            Some(body),
            Some(&idempotency_key()),
            None,
        )
        .await
    }

    /// A request as the logged-in account; on 401 logs in again once and retries.
    async fn authed<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        idem: Option<&str>,
    ) -> Result<T, ClientError> {
        let token = self.access_token().await?;
        match self
            .send(method.clone(), path, body, idem, Some(&token))
            .await
        {
            Err(ClientError::Unauthenticated { .. }) => {
                let token = self.relogin().await?;
                self.send(method, path, body, idem, Some(&token)).await
            }
            other => other,
        }
    }

    /// Sends one request, retrying transport failures and 502/503/504.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        idem: Option<&str>,
        token: Option<&str>,
    ) -> Result<T, ClientError> {
        let url = self.url(path)?;
        let mut attempt = 0;
        loop {
            let mut req = self.http.request(method.clone(), url.clone());
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            if let Some(key) = idem {
                req = req.header("Idempotency-Key", key);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let retryable = match req.send().await {
                Ok(res) if res.status().is_success() => return Ok(res.json::<T>().await?),
                Ok(res) => {
                    let status = res.status();
                    let retry_after = res
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let problem = res.json::<Problem>().await.ok();
                    let err = from_problem(status, problem, retry_after);
                    if !matches!(
                        status,
                        StatusCode::BAD_GATEWAY
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::GATEWAY_TIMEOUT
                    ) {
                        return Err(err);
                    }
                    err
                }
                Err(e) if e.is_connect() || e.is_timeout() => e.into(),
                Err(e) => return Err(e.into()),
            };
            if attempt >= RETRIES {
                return Err(retryable);
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
    }
}

/// A fresh `Idempotency-Key`.
fn idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Signs `action` as a staff member with `key` for `aud`, valid for 5 minutes.
pub(crate) fn sign_as(
    key: &SigningKey,
    aud: &str,
    action: carechain_core::statement::Action,
) -> Result<String, ClientError> {
    carechain_core::statement::Statement::new(
        key.actor_id(),
        aud,
        action,
        now(),
        STATEMENT_TTL_SECS,
        &mut carechain_core::OsRng,
    )
    .sign(key)
    .map_err(|e| ClientError::Internal(format!("cannot sign: {e}")))
}

/// How long a statement the client signs stays valid.
pub(crate) const STATEMENT_TTL_SECS: i64 = 300;

// Added for the `carechain` CLI, which keeps a staff login between runs in a
// session file beside its keystore (only the rotating refresh token).
impl Session {
    /// The refresh token of the current login, if the relay issued one.
    pub fn refresh_token(&self) -> Option<String> {
        self.tokens.lock().ok().and_then(|t| t.refresh.clone())
    }

    /// Resumes a login kept between runs: rotates `refresh_token` for a new
    /// access token and refresh token (read the latter with [`Session::refresh_token`]).
    pub async fn resume(&self, refresh_token: &str) -> Result<(), ClientError> {
        let body = json!({ "refresh_token": refresh_token });
        let tokens = self
            .send(Method::POST, "v1/auth/refresh", Some(&body), None, None)
            .await?;
        self.store(tokens);
        Ok(())
    }
}
