//! The relay's HTTP API as a staff member's tool uses it: JSON in and out,
//! bearer tokens, signed statements under a fresh `Idempotency-Key`, and the
//! assertions on RFC 9457 refusals.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use carechain_core::OsRng;
use carechain_core::identity::SigningKey;
use carechain_core::statement::{Action, Statement};

use crate::relay::LEDGER_AUDIENCE;

/// The problem types' common prefix.
pub const PROBLEM: &str = "https://carechain.dev/problems/";

/// An answer: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Reply {
    /// Asserts a success status and returns the body.
    #[track_caller]
    pub fn ok(self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "expected {status}, found {self:?}");
        self.body
    }

    /// Asserts an RFC 9457 refusal with `status` and problem type `code`.
    #[track_caller]
    pub fn refused(&self, status: StatusCode, code: &str) {
        assert_eq!(
            self.status, status,
            "expected {status} {code}, found {self:?}"
        );
        assert_eq!(
            self.content_type, "application/problem+json",
            "expected a problem document, found {self:?}"
        );
        assert_eq!(
            self.body["type"],
            Value::from(format!("{PROBLEM}{code}")),
            "expected problem {code}, found {self:?}"
        );
    }
}

/// A plain HTTP client for one relay.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    /// A client for the relay at `base` (no trailing slash).
    pub fn new(base: &str) -> Http {
        Http {
            client: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// Sends `method path` with an optional JSON body and bearer token; every
    /// POST carries a fresh idempotency key.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if method == Method::POST {
            req = req.header("Idempotency-Key", uuid::Uuid::new_v4().to_string());
        }
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("the relay answers");
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = res.bytes().await.expect("the relay's body");
        Reply {
            status,
            content_type,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// An authenticated GET.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None).await
    }

    /// POSTs `{"statement": jws}` as the bearer of `token`.
    pub async fn post_statement(&self, path: &str, token: &str, jws: &str) -> Reply {
        self.send(
            Method::POST,
            path,
            Some(token),
            Some(json!({ "statement": jws })),
        )
        .await
    }

    /// Signs `act` with `key` (valid 5 minutes) and POSTs it.
    pub async fn post_signed(
        &self,
        path: &str,
        token: &str,
        key: &SigningKey,
        act: Action,
    ) -> Reply {
        let jws = sign(key, act);
        self.post_statement(path, token, &jws).await
    }

    /// Email + password login; returns the access token.
    pub async fn password_login(&self, email: &str, password: &str) -> String {
        let body = json!({ "email": email, "password": password });
        let reply = self
            .send(Method::POST, "/v1/auth/login", None, Some(body))
            .await
            .ok(StatusCode::OK);
        reply["access_token"]
            .as_str()
            .expect("an access_token")
            .to_owned()
    }
}

/// The current Unix time in seconds.
pub fn now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(since.as_secs()).expect("seconds fit i64")
}

/// A compact JWS of `act` by `key` for the test ledger, valid 5 minutes.
pub fn sign(key: &SigningKey, act: Action) -> String {
    Statement::new(key.actor_id(), LEDGER_AUDIENCE, act, now(), 300, &mut OsRng)
        .sign(key)
        .expect("a signed statement")
}

/// Every item of a `{items, next}` list answer.
#[track_caller]
pub fn items(body: &Value) -> &Vec<Value> {
    body["items"]
        .as_array()
        .expect("a list answer {items, next}")
}
