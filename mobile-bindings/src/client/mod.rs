//! [`RelayClient`]: the patient's side of the relay's HTTP API. Every
//! exported method is async; the work runs on the library's tokio runtime
//! (reqwest with rustls), CPU-heavy crypto on its blocking pool.
//!
//! Authentication is the patient's challenge login, signed with the wallet's
//! key; a request answered 401 logs in again once and is retried, so an
//! expired access token never reaches the app.

mod consent;
mod insurance;
pub(crate) mod wire;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use carechain_core::statement::Action;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use crate::error::{MobileError, invalid};
use crate::runtime;
use crate::wallet::{Wallet, now};

/// The phone's connection to one relay, acting for one wallet.
#[derive(uniffi::Object)]
pub struct RelayClient {
    pub(crate) inner: Arc<Inner>,
}

/// The shared state behind a [`RelayClient`], cloned into background tasks.
pub(crate) struct Inner {
    http: reqwest::Client,
    /// The relay's base URL, ending in `/`.
    pub(crate) base: Url,
    /// The ledger audience statements are signed for.
    pub(crate) ledger_audience: String,
    pub(crate) wallet: Arc<Wallet>,
    token: Mutex<Option<String>>,
}

#[uniffi::export]
impl RelayClient {
    /// A client for the relay at `base_url` (`https://…`; `http://` for
    /// loopback tests), signing statements for `ledger_audience` (the `aud`
    /// the relay's ledger was initialised with, `carechain` by default).
    #[uniffi::constructor]
    pub fn new(
        base_url: String,
        ledger_audience: String,
        wallet: Arc<Wallet>,
    ) -> Result<Arc<Self>, MobileError> {
        let mut base =
            Url::parse(&base_url).map_err(|e| invalid(format!("base_url: {e}: {base_url:?}")))?;
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
            return Err(invalid("ledger_audience: expected a non-empty audience"));
        }
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| MobileError::Internal {
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Arc::new(RelayClient {
            inner: Arc::new(Inner {
                http,
                base,
                ledger_audience,
                wallet,
                token: Mutex::new(None),
            }),
        }))
    }

    /// Registers this wallet's identity as a patient (self-signed, with the
    /// Paillier key and its correctness proof), then logs in.
    pub async fn register(&self, display_name: String) -> Result<(), MobileError> {
        let inner = self.inner.clone();
        runtime::spawn(async move { inner.register(display_name).await }).await
    }

    /// Logs in by signing the relay's challenge with the wallet's key.
    pub async fn login(&self) -> Result<(), MobileError> {
        let inner = self.inner.clone();
        runtime::spawn(async move { inner.login().await.map(|_| ()) }).await
    }
}

impl Inner {
    /// The absolute URL of `path` (relative, no leading slash).
    pub(crate) fn url(&self, path: &str) -> Result<Url, MobileError> {
        self.base
            .join(path)
            .map_err(|e| invalid(format!("{path}: {e}")))
    }

    fn current_token(&self) -> Option<String> {
        self.token.lock().ok().and_then(|t| t.clone())
    }

    /// A valid access token, logging in first if there is none.
    pub(crate) async fn access_token(&self) -> Result<String, MobileError> {
        match self.current_token() {
            Some(token) => Ok(token),
            None => self.login().await,
        }
    }

    /// Forgets the access token (after a 401), so the next call logs in.
    pub(crate) fn forget_token(&self) {
        if let Ok(mut t) = self.token.lock() {
            *t = None;
        }
    }

    /// The challenge login; stores and returns the access token.
    async fn login(&self) -> Result<String, MobileError> {
        let actor = self.wallet.actor_id()?;
        let challenge: wire::Challenge = self
            .send(
                Method::POST,
                "v1/auth/challenge",
                Some(json!({"actor": actor})),
                None,
            )
            .await?;
        let signature = self.login_proof(&challenge)?;
        let tokens: wire::Tokens = self
            .send(
                Method::POST,
                "v1/auth/patient-login",
                Some(json!({"actor": actor, "signature": signature})),
                None,
            )
            .await?;
        if let Ok(mut t) = self.token.lock() {
            *t = Some(tokens.access_token.clone());
        }
        Ok(tokens.access_token)
    }

    /// A compact ES256 JWS over `{challenge, aud, iat, exp}`, valid for a minute.
    fn login_proof(&self, challenge: &wire::Challenge) -> Result<String, MobileError> {
        use p256::ecdsa::signature::Signer as _;
        let iat = now();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
        let claims = json!({
            "challenge": challenge.challenge,
            "aud": challenge.audience,
            "iat": iat,
            "exp": iat + 60,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{claims}");
        let secret = self.wallet.lock()?.signing_key().to_bytes();
        let key = p256::ecdsa::SigningKey::from_slice(secret.as_slice()).map_err(|_| {
            MobileError::Internal {
                reason: "the wallet's signing key is not a P-256 scalar".into(),
            }
        })?;
        let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }

    async fn register(&self, display_name: String) -> Result<(), MobileError> {
        let wallet = self.wallet.clone();
        let registration = runtime::blocking(move || {
            use carechain_core::ids::B64;
            use carechain_core::statement::{PaillierRegistration, RegisterIdentity, Role};
            let w = wallet.lock()?;
            let paillier = w.paillier_key();
            Ok(RegisterIdentity {
                role: Role::Patient,
                signing_key: w.signing_key().verifying_key(),
                hpke_key: B64(w.hpke_key().public_key().to_bytes()),
                display_name,
                paillier: Some(PaillierRegistration {
                    public_key: B64(paillier.public_key().to_bytes()),
                    key_proof: B64(paillier.prove_key_correct().to_bytes()),
                }),
            })
        })
        .await?;
        let statement = self.sign(Action::RegisterIdentity(registration))?;
        let _: Value = self
            .send(
                Method::POST,
                "v1/patients",
                Some(json!({ "statement": statement })),
                Some(fresh_idempotency_key()),
            )
            .await?;
        self.login().await.map(|_| ())
    }

    /// Signs `action` with the wallet for the ledger.
    pub(crate) fn sign(&self, action: Action) -> Result<String, MobileError> {
        self.wallet.sign(&self.ledger_audience, action)
    }

    /// Signs `action` and POSTs it to `path` as the patient, under a fresh idempotency key.
    pub(crate) async fn submit(&self, path: &str, action: Action) -> Result<Value, MobileError> {
        let statement = self.sign(action)?;
        self.authed(
            Method::POST,
            path,
            Some(json!({ "statement": statement })),
            Some(fresh_idempotency_key()),
        )
        .await
    }

    /// A GET as the patient.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, MobileError> {
        self.authed(Method::GET, path, None, None).await
    }

    /// Every item of a paginated list at `path` (which may carry a query).
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Vec<T>, MobileError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page_path = match &after {
                Some(cursor) => format!("{path}{sep}limit=100&after={cursor}"),
                None => format!("{path}{sep}limit=100"),
            };
            let page: wire::Page<T> = self.get(&page_path).await?;
            items.extend(page.items);
            match page.next {
                Some(next) if Some(&next) != after.as_ref() => after = Some(next),
                _ => return Ok(items),
            }
        }
    }

    /// A request as the patient; on 401, logs in again once and retries
    /// (same idempotency key, so a retried POST is never applied twice).
    async fn authed<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        idem: Option<String>,
    ) -> Result<T, MobileError> {
        let token = self.access_token().await?;
        match self
            .send_with(
                method.clone(),
                path,
                body.clone(),
                idem.clone(),
                Some(&token),
            )
            .await
        {
            Err(MobileError::NotAuthenticated { .. }) => {
                self.forget_token();
                let token = self.login().await?;
                self.send_with(method, path, body, idem, Some(&token)).await
            }
            other => other,
        }
    }

    /// An unauthenticated request.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        idem: Option<String>,
    ) -> Result<T, MobileError> {
        self.send_with(method, path, body, idem, None).await
    }

    async fn send_with<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        idem: Option<String>,
        token: Option<&str>,
    ) -> Result<T, MobileError> {
        let mut req = self.http.request(method, self.url(path)?);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(key) = idem {
            req = req.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await?;
        let status = res.status();
        if status.is_success() {
            return Ok(res.json::<T>().await?);
        }
        let problem = res.json::<wire::Problem>().await.ok();
        Err(problem_error(status, problem))
    }
}

/// Maps a relay error answer onto the FFI error.
fn problem_error(status: StatusCode, problem: Option<wire::Problem>) -> MobileError {
    let (code, reason) = match problem {
        Some(p) => (
            p.kind.rsplit('/').next().unwrap_or_default().to_owned(),
            p.detail,
        ),
        None => (String::new(), format!("HTTP {status}")),
    };
    match status.as_u16() {
        401 => MobileError::NotAuthenticated { reason },
        404 => MobileError::NotFound { reason },
        400 => MobileError::InvalidInput { reason },
        s if s >= 500 => MobileError::Network { reason },
        s => MobileError::Refused {
            status: s,
            code,
            reason,
        },
    }
}

/// A fresh `Idempotency-Key` for one logical POST.
fn fresh_idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}
