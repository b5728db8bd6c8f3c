//! The relay's HTTP API as the CLI uses it: JSON in and out, a bearer token
//! once logged in, an `Idempotency-Key` on every POST, and RFC 9457 problem
//! details turned into [`RelayError::Refused`] with the relay's own words.

use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use carechain_core::OsRng;
use carechain_core::identity::SigningKey;
use carechain_core::statement::{Action, Statement};

/// Why a call to the relay failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The relay URL is not an http(s) URL.
    #[error("relay URL: expected http(s)://host:port, found {0:?}")]
    BadUrl(String),
    /// The relay could not be reached.
    #[error("cannot reach the relay at {url}: {reason}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The relay (or the ledger's contract behind it) refused the request.
    #[error("the relay refused {what}: {status} {title}{detail} [{code}]")]
    Refused {
        /// What was asked (method and path).
        what: String,
        /// The HTTP status.
        status: u16,
        /// The problem's title.
        title: String,
        /// ` — ` and the problem's detail, if any.
        detail: String,
        /// The problem code (the last segment of its `type`).
        code: String,
    },
    /// The relay answered something the CLI does not understand.
    #[error("the relay's answer to {what} was not what was expected: {reason}")]
    Unexpected {
        /// What was asked.
        what: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// A statement could not be signed.
    #[error("cannot sign the statement: {0}")]
    Sign(String),
}

/// A connection to one relay, with a bearer token once logged in.
#[derive(Clone)]
pub struct Relay {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl Relay {
    /// A client for the relay at `url`.
    pub fn new(url: &str) -> Result<Self, RelayError> {
        let mut base = Url::parse(url).map_err(|_| RelayError::BadUrl(url.to_owned()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(RelayError::BadUrl(url.to_owned()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| RelayError::Unreachable {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Relay {
            http,
            base,
            token: None,
        })
    }

    /// Uses `token` as the bearer token from now on.
    pub fn set_token(&mut self, token: String) {
        self.token = Some(token);
    }

    /// One call; `path` is relative (`v1/...`).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, RelayError> {
        let what = format!("{method} /{path}");
        let url = self.base.join(path).map_err(|e| RelayError::Unexpected {
            what: what.clone(),
            reason: e.to_string(),
        })?;
        let mut req = self.http.request(method.clone(), url.clone());
        if method == Method::POST {
            req = req.header("Idempotency-Key", uuid::Uuid::new_v4().to_string());
        }
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.map_err(|e| RelayError::Unreachable {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let field = |name: &str| parsed[name].as_str().unwrap_or_default().to_owned();
            let detail = field("detail");
            return Err(RelayError::Refused {
                what,
                status: status.as_u16(),
                title: match field("title") {
                    t if t.is_empty() => status.canonical_reason().unwrap_or("").to_owned(),
                    t => t,
                },
                detail: if detail.is_empty() {
                    String::new()
                } else {
                    format!(" — {detail}")
                },
                code: field("type").rsplit('/').next().unwrap_or("").to_owned(),
            });
        }
        Ok(parsed)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Value, RelayError> {
        self.call(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, RelayError> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Signs `act` for `audience` with `key` (valid 5 minutes, fresh nonce) and posts it to `path`.
    pub async fn submit(
        &self,
        path: &str,
        key: &SigningKey,
        audience: &str,
        act: Action,
    ) -> Result<Value, RelayError> {
        let statement = Statement::new(key.actor_id(), audience, act, now(), 300, &mut OsRng)
            .sign(key)
            .map_err(|e| RelayError::Sign(e.to_string()))?;
        self.post(path, &json!({ "statement": statement })).await
    }

    /// Every item of a paginated list (`{items, next}`).
    pub async fn list_all(&self, path: &str) -> Result<Vec<Value>, RelayError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page_path = match &after {
                Some(a) => format!("{path}{sep}limit=100&after={a}"),
                None => format!("{path}{sep}limit=100"),
            };
            let page = self.get(&page_path).await?;
            let items = page["items"]
                .as_array()
                .ok_or_else(|| RelayError::Unexpected {
                    what: format!("GET /{path}"),
                    reason: "expected {items, next}".into(),
                })?;
            out.extend(items.iter().cloned());
            match page["next"].as_str() {
                Some(next) if !items.is_empty() => after = Some(next.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// Password login: returns `(access_token, refresh_token)`.
    pub async fn password_login(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(String, String), RelayError> {
        let reply = self
            .post(
                "v1/auth/login",
                &json!({ "email": email, "password": password }),
            )
            .await?;
        tokens(&reply, "POST /v1/auth/login")
    }

    /// Rotates `refresh_token`: returns the new `(access_token, refresh_token)`.
    pub async fn refresh(&self, refresh_token: &str) -> Result<(String, String), RelayError> {
        let reply = self
            .post(
                "v1/auth/refresh",
                &json!({ "refresh_token": refresh_token }),
            )
            .await?;
        tokens(&reply, "POST /v1/auth/refresh")
    }
}

fn tokens(reply: &Value, what: &str) -> Result<(String, String), RelayError> {
    match (
        reply["access_token"].as_str(),
        reply["refresh_token"].as_str(),
    ) {
        (Some(a), Some(r)) => Ok((a.to_owned(), r.to_owned())),
        _ => Err(RelayError::Unexpected {
            what: what.to_owned(),
            reason: "expected access_token and refresh_token".into(),
        }),
    }
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The string field `name` of `value`, or an [`RelayError::Unexpected`].
pub fn field<'a>(value: &'a Value, name: &str, what: &str) -> Result<&'a str, RelayError> {
    value[name].as_str().ok_or_else(|| RelayError::Unexpected {
        what: what.to_owned(),
        reason: format!("expected a string field {name:?}"),
    })
}
