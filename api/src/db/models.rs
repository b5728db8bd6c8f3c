//! Rows as stored: plain structs with diesel derives, used only by `db/` and
//! converted into API types by the handlers.

use diesel::prelude::*;

use crate::db::schema::{accounts, devices, idempotency_keys, login_challenges, refresh_tokens};

/// An account row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
pub struct Account {
    /// Random UUID.
    pub id: String,
    /// `patient`, `doctor`, `insurer` or `admin`.
    pub role: String,
    /// Login email (none for patients).
    pub email: Option<String>,
    /// argon2id PHC string (none for patients).
    pub password_hash: Option<String>,
    /// The ledger actor id.
    pub actor_id: Option<String>,
    /// Display name.
    pub display_name: String,
    /// `pending`, `active` or `suspended`.
    pub status: String,
    /// Creation time.
    pub created_at: i64,
}

/// A registered public key of an account.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = devices)]
pub struct Device {
    /// Random UUID.
    pub id: String,
    /// The owning account.
    pub account_id: String,
    /// The actor id derived from `signing_key`.
    pub actor_id: String,
    /// SEC1 P-256 public key, base64url.
    pub signing_key: String,
    /// HPKE public key, base64url.
    pub hpke_key: String,
    /// Creation time.
    pub created_at: i64,
}

/// A refresh token (only its hash).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    /// Random UUID.
    pub id: String,
    /// The account.
    pub account_id: String,
    /// The rotation family.
    pub family: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Expiry.
    pub expires_at: i64,
    /// When rotated.
    pub used_at: Option<i64>,
    /// When revoked.
    pub revoked_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
}

/// A patient login challenge.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_challenges)]
pub struct LoginChallenge {
    /// The random nonce.
    pub nonce: String,
    /// The actor it was issued to.
    pub actor_id: String,
    /// Expiry.
    pub expires_at: i64,
    /// When used.
    pub used_at: Option<i64>,
}

/// A stored idempotent response.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRecord {
    /// The caller's scope (account id or `anon:{actor}`).
    pub account_id: String,
    /// The `Idempotency-Key` header.
    pub idem_key: String,
    /// SHA-256 of method, path and body, hex.
    pub request_hash: String,
    /// `in_progress` or `done`.
    pub status: String,
    /// The stored HTTP status.
    pub status_code: i32,
    /// The stored body.
    pub response_body: String,
    /// Creation time.
    pub created_at: i64,
}
