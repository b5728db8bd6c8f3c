//! Refresh tokens (stored as SHA-256 hashes) and patient login challenges.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::{LoginChallenge, RefreshToken};
use crate::db::schema::{login_challenges, refresh_tokens};
use crate::error::ApiError;

/// Stores a new refresh token.
pub fn insert_refresh(conn: &mut DbConnection, token: &RefreshToken) -> Result<(), ApiError> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

/// The refresh token whose hash is `hash`.
pub fn refresh_by_hash(
    conn: &mut DbConnection,
    hash: &str,
) -> Result<Option<RefreshToken>, ApiError> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshToken::as_select())
        .get_result(conn)
        .optional()?)
}

/// Marks a token used, atomically: false if it was already used or revoked.
pub fn mark_used(conn: &mut DbConnection, id: &str, now: i64) -> Result<bool, ApiError> {
    let n = diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Whether session `family` still has a token that is not revoked (a reused
/// refresh token or a suspension revokes them all).
pub fn session_live(conn: &mut DbConnection, family: &str) -> Result<bool, ApiError> {
    let live = refresh_tokens::table
        .filter(refresh_tokens::family.eq(family))
        .filter(refresh_tokens::revoked_at.is_null());
    Ok(diesel::select(diesel::dsl::exists(live)).get_result::<bool>(conn)?)
}

/// Revokes every token of a rotation family.
pub fn revoke_family(conn: &mut DbConnection, family: &str, now: i64) -> Result<(), ApiError> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// Revokes every token of an account (on suspension).
pub fn revoke_account(conn: &mut DbConnection, account: &str, now: i64) -> Result<(), ApiError> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::account_id.eq(account))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// Stores a login challenge (and drops expired ones).
pub fn insert_challenge(
    conn: &mut DbConnection,
    challenge: &LoginChallenge,
    now: i64,
) -> Result<(), ApiError> {
    diesel::delete(login_challenges::table.filter(login_challenges::expires_at.lt(now)))
        .execute(conn)?;
    diesel::insert_into(login_challenges::table)
        .values(challenge)
        .execute(conn)?;
    Ok(())
}

/// Consumes a challenge: true once for an unexpired, unused nonce issued to `actor`.
pub fn consume_challenge(
    conn: &mut DbConnection,
    nonce: &str,
    actor: &str,
    now: i64,
) -> Result<bool, ApiError> {
    let n = diesel::update(
        login_challenges::table
            .find(nonce)
            .filter(login_challenges::actor_id.eq(actor))
            .filter(login_challenges::used_at.is_null())
            .filter(login_challenges::expires_at.gt(now)),
    )
    .set(login_challenges::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n == 1)
}
