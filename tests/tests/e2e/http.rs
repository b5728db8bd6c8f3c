//! What a scenario sends to the relay by hand, bypassing the client on
//! purpose: a captured statement replayed, a statement carrying a forged
//! proof. Every other call goes through `carechain-client`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use carechain_core::OsRng;
use carechain_core::identity::SigningKey;
use carechain_core::statement::{Action, Statement};

use crate::relay::LEDGER_AUDIENCE;

/// An answer: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// Asserts a success status and returns the body.
    #[track_caller]
    pub fn ok(self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "expected {status}, found {self:?}");
        self.body
    }
}

/// POSTs `{"statement": jws}` to `url` as the bearer of `token` under a
/// fresh `Idempotency-Key`, as whoever captured or forged it would.
pub async fn post_statement(url: url::Url, token: &str, jws: &str) -> Reply {
    let res = reqwest::Client::new()
        .post(url)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .bearer_auth(token)
        .json(&json!({ "statement": jws }))
        .send()
        .await
        .expect("the relay answers");
    let status = res.status();
    let bytes = res.bytes().await.expect("the relay's body");
    Reply {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
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
