//! Rate limits on credentials and on account creation, shared through the
//! database by every relay process on it (the GCRA of [`db::limits`]).
//!
//! Logins count **failures only**: an attempt reserves one unit on each of
//! its keys and a correct credential gives the units back, so any number of
//! correct logins pass. Failures are counted per account *from one client*
//! (`login_attempts_per_minute`) and per client across accounts (four times
//! that), never per account across clients: an account-wide lock would let
//! anyone lock the owner out, so an attacker's wrong passwords never refuse
//! the owner's correct one from another address. Guessing from many
//! addresses stays bounded per address, and each guess costs an argon2id
//! verification.
//!
//! A refused attempt takes nothing; a 429 says when to retry (`Retry-After`).

use sha2::{Digest as _, Sha256};

use crate::db::limits::{self, Quota};
use crate::db::{self, DbPool};
use crate::error::ApiError;

/// Counts `keys` (each with its quota) as one attempt: all or nothing; 429
/// with the longest wait if any key is over its quota.
pub async fn take_all(pool: &DbPool, keys: &[(String, Quota)]) -> Result<(), ApiError> {
    let keys: Vec<(String, Quota)> = keys.iter().map(|(k, q)| (digest(k), *q)).collect();
    let now = db::now_ms();
    let wait = db::run(pool, move |conn| {
        let mut wait: Option<i64> = None;
        let mut taken = Vec::new();
        for (key, quota) in &keys {
            match limits::take(conn, key, *quota, now)? {
                None => taken.push((key, *quota)),
                Some(ms) => wait = Some(wait.map_or(ms, |w| w.max(ms))),
            }
        }
        if wait.is_some() {
            for (key, quota) in taken {
                limits::refund(conn, key, quota)?;
            }
        }
        // Expired rows limit nothing; sweep them now and then.
        if rand::random::<u8>() == 0 {
            limits::sweep(conn, now)?;
        }
        Ok(wait)
    })
    .await?;
    match wait {
        None => Ok(()),
        Some(ms) => Err(ApiError::RateLimited {
            retry_after_secs: u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1),
        }),
    }
}

/// Keys are stored as SHA-256 digests: the table holds neither emails nor
/// addresses, and an attacker's key costs 64 bytes whatever its length.
fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// One login attempt, counted as a failure unless [`LoginLimiter::succeeded`]
/// gives it back.
#[must_use = "a login attempt counts as a failure unless it is given back"]
#[derive(Debug)]
pub struct Attempt {
    keys: Vec<(String, Quota)>,
}

/// Login and challenge limits; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimiter {
    account: Quota,
    client: Quota,
    challenge: Quota,
}

impl LoginLimiter {
    /// `failures_per_minute` wrong credentials per account from one client
    /// (all at once, then one every `60 / failures_per_minute` s), four
    /// times that per client across accounts, and twelve times that login
    /// challenges per client.
    pub fn new(failures_per_minute: u32) -> Self {
        let n = failures_per_minute.max(1);
        LoginLimiter {
            account: Quota::per_minute(n),
            client: Quota::per_minute(n.saturating_mul(4)),
            challenge: Quota::per_minute(n.saturating_mul(12)),
        }
    }

    /// Counts a login to `account` (e.g. `email:…`) from `client` as a
    /// failure until it succeeds; 429 if this client failed too often.
    pub async fn attempt(
        &self,
        pool: &DbPool,
        account: &str,
        client: &str,
    ) -> Result<Attempt, ApiError> {
        let keys = vec![
            (format!("login-client:{client}"), self.client),
            (format!("login-account:{account}|{client}"), self.account),
        ];
        take_all(pool, &keys).await?;
        Ok(Attempt { keys })
    }

    /// The credential was correct: the attempt is not a failure.
    pub async fn succeeded(&self, pool: &DbPool, attempt: Attempt) -> Result<(), ApiError> {
        let keys: Vec<(String, Quota)> =
            attempt.keys.iter().map(|(k, q)| (digest(k), *q)).collect();
        db::run(pool, move |conn| {
            for (key, quota) in &keys {
                limits::refund(conn, key, *quota)?;
            }
            Ok(())
        })
        .await
    }

    /// Counts a login challenge issued to `client`; 429 over its quota.
    pub async fn challenge(&self, pool: &DbPool, client: &str) -> Result<(), ApiError> {
        take_all(pool, &[(format!("challenge:{client}"), self.challenge)]).await
    }
}

/// Limits on creating accounts (doctor and insurer sign-ups, patient
/// registrations): per client address and for all clients together, each
/// a burst of its hourly allowance then an even trickle. Sign-ups fill the
/// admin's approval queue and patient registrations cost ledger work, and
/// neither needs an account, so both are bounded even from many addresses.
#[derive(Debug, Clone, Copy)]
pub struct CreationLimiter {
    signup_client: Quota,
    signup_all: Quota,
    registration_client: Quota,
    registration_all: Quota,
}

impl CreationLimiter {
    /// The limits of `config`.
    pub fn new(config: &crate::config::Config) -> Self {
        CreationLimiter {
            signup_client: Quota::per_hour(config.signups_per_client_per_hour),
            signup_all: Quota::per_hour(config.signups_per_hour),
            registration_client: Quota::per_hour(config.patient_registrations_per_client_per_hour),
            registration_all: Quota::per_hour(config.patient_registrations_per_hour),
        }
    }

    /// Counts a sign-up from `client`; 429 over either limit.
    pub async fn signup(&self, pool: &DbPool, client: &str) -> Result<(), ApiError> {
        let keys = [
            (format!("signup-client:{client}"), self.signup_client),
            ("signup-all".to_owned(), self.signup_all),
        ];
        take_all(pool, &keys).await
    }

    /// Counts a patient registration from `client`; 429 over either limit.
    pub async fn registration(&self, pool: &DbPool, client: &str) -> Result<(), ApiError> {
        let keys = [
            (
                format!("registration-client:{client}"),
                self.registration_client,
            ),
            ("registration-all".to_owned(), self.registration_all),
        ];
        take_all(pool, &keys).await
    }
}
