//! argon2id password hashing with the OWASP parameters (m = 19 MiB, t = 2, p = 1),
//! always on the blocking pool.

use actix_web::web;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::OsRng;
use zeroize::Zeroizing;

use crate::error::ApiError;

/// Shortest accepted password.
pub const MIN_LEN: usize = 10;
/// Longest accepted password (bounds the hashing cost of a request).
pub const MAX_LEN: usize = 256;

fn argon2() -> Result<Argon2<'static>, ApiError> {
    let params = Params::new(19_456, 2, 1, None)
        .map_err(|e| ApiError::internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Checks a new password's length.
pub fn check_policy(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&n) {
        return Err(ApiError::bad_request(format!(
            "expected a password of {MIN_LEN} to {MAX_LEN} characters, found {n}"
        )));
    }
    Ok(())
}

/// Hashes synchronously (CLI and blocking contexts).
pub fn hash_blocking(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(format!("argon2: {e}")))
}

/// Hashes a password off the async workers.
pub async fn hash(password: String) -> Result<String, ApiError> {
    let password = Zeroizing::new(password);
    web::block(move || hash_blocking(&password)).await?
}

/// A fixed hash verified when the account does not exist, so timing does not tell.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5bYeVtrN9r0nVhHiA+ChO6x6Tgpdz2NwkD5JKaJ7E0Y";

/// Verifies `password` against `hash` (or a dummy) off the async workers.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    let password = Zeroizing::new(password);
    web::block(move || {
        let known = hash.is_some();
        let stored = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| ApiError::internal(format!("stored hash: {e}")))?;
        let ok = argon2()?
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && ok)
    })
    .await?
}
