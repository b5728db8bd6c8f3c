//! Request and response bodies of the HTTP API. Independent of diesel: the
//! handlers convert rows into these. Ledger objects are passed through as the
//! contract stores them, in the shared types of `carechain_core::ledger`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The role of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// A patient (logs in with a device key).
    Patient,
    /// A doctor.
    Doctor,
    /// An insurer.
    Insurer,
    /// An administrator.
    Admin,
}

impl AccountRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Patient => "patient",
            AccountRole::Doctor => "doctor",
            AccountRole::Insurer => "insurer",
            AccountRole::Admin => "admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "patient" => AccountRole::Patient,
            "doctor" => AccountRole::Doctor,
            "insurer" => AccountRole::Insurer,
            "admin" => AccountRole::Admin,
            _ => return None,
        })
    }

    /// The ledger role of the same name.
    pub fn ledger_role(self) -> carechain_core::statement::Role {
        use carechain_core::statement::Role;
        match self {
            AccountRole::Patient => Role::Patient,
            AccountRole::Doctor => Role::Doctor,
            AccountRole::Insurer => Role::Insurer,
            AccountRole::Admin => Role::Admin,
        }
    }

    /// The account role of the same name as a ledger role.
    pub fn from_ledger_role(role: carechain_core::statement::Role) -> Self {
        use carechain_core::statement::Role;
        match role {
            Role::Patient => AccountRole::Patient,
            Role::Doctor => AccountRole::Doctor,
            Role::Insurer => AccountRole::Insurer,
            Role::Admin => AccountRole::Admin,
        }
    }
}

/// Account status names.
pub mod status {
    /// Waiting for an admin's approval.
    pub const PENDING: &str = "pending";
    /// Usable.
    pub const ACTIVE: &str = "active";
    /// Suspended by an admin.
    pub const SUSPENDED: &str = "suspended";
}

/// A doctor's or insurer's sign-up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Login email.
    pub email: String,
    /// Password (10 to 256 characters).
    pub password: String,
    /// `doctor` or `insurer`.
    pub role: AccountRole,
    /// Practitioner or organisation name.
    pub display_name: String,
    /// The P-256 signing key (SEC1, base64url) the admin will register on the ledger.
    pub signing_key: String,
    /// The HPKE public key (base64url) data keys are wrapped to.
    pub hpke_key: String,
}

/// An account as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    /// Account id.
    pub id: String,
    /// Role.
    pub role: AccountRole,
    /// Email (none for patients).
    pub email: Option<String>,
    /// Ledger actor id.
    pub actor_id: Option<String>,
    /// Display name.
    pub display_name: String,
    /// `pending`, `active` or `suspended`.
    pub status: String,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Registered signing key (base64url SEC1).
    pub signing_key: Option<String>,
    /// Registered HPKE key (base64url).
    pub hpke_key: Option<String>,
}

/// Email and password login.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// Tokens issued at login or refresh.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The JWT access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// The opaque refresh token (single use).
    pub refresh_token: String,
}

/// A refresh token to rotate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token.
    pub refresh_token: String,
}

/// A signed statement (compact JWS) to forward to the ledger.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementRequest {
    /// The compact JWS, signed by the caller's key.
    pub statement: String,
}

/// A patient's registration result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PatientRegistered {
    /// The new account.
    pub account_id: String,
    /// The patient's actor id.
    pub actor: String,
    /// The ledger transaction (none when an identity already on the ledger was adopted).
    pub tx_id: Option<String>,
}

/// Asks for a patient login challenge.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The patient's actor id.
    pub actor: String,
}

/// A login challenge to sign.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChallengeResponse {
    /// The nonce to put in the `challenge` claim.
    pub challenge: String,
    /// The `aud` to sign for.
    pub audience: String,
    /// When the nonce expires (Unix seconds).
    pub expires_at: i64,
}

/// A signed login challenge.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientLoginRequest {
    /// The patient's actor id.
    pub actor: String,
    /// Compact ES256 JWS over `{"challenge","aud","iat","exp"}`.
    pub signature: String,
}

/// A transaction the ledger committed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Submitted {
    /// The transaction id.
    pub tx_id: String,
    /// The block holding it.
    pub block: u64,
    /// The contract's result.
    #[schema(value_type = Object)]
    pub result: serde_json::Value,
}

/// One page of accounts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountPage {
    /// The accounts.
    pub items: Vec<AccountView>,
    /// Pass as `after` for the next page.
    pub next: Option<String>,
}

/// Cursor pagination.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// Page size, 1 to 100 (default 100).
    pub limit: Option<u32>,
    /// Filter by status (lists that support it).
    pub status: Option<String>,
}

/// The scope a patient is about to grant (`all`, or categories separated by
/// commas); the request's own scope when absent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GrantContextQuery {
    /// `all` or record categories separated by commas.
    pub scope: Option<String>,
}

/// The record a patient is about to claim for.
#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClaimContextQuery {
    /// The record's id.
    pub record: String,
}

/// The category a doctor asks readers for.
#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReadersQuery {
    /// A record category (`general`, `laboratory`, …).
    pub category: String,
}

/// A record and the data key wrapped for the reader.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordRead {
    /// The logging transaction (none for the patient's own read).
    pub tx_id: Option<String>,
    /// The record (ciphertext).
    pub record: carechain_core::ledger::RecordState,
    /// The data key wrapped for the caller.
    pub key: carechain_core::ledger::WrappedKeyState,
}

/// One transaction of the audit trail: metadata, never payloads.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Block number.
    pub block: u64,
    /// Transaction id.
    pub tx_id: String,
    /// Transaction time (Unix seconds).
    pub time: i64,
    /// The action kind (`grant`, `write_record`, … or `init`).
    pub action: String,
    /// The signer's actor id.
    pub signer: Option<String>,
    /// Whether the transaction took effect (always, on the embedded ledger).
    pub valid: bool,
    /// The ledger's validation code when it did not.
    pub error_code: Option<String>,
}

/// One page of the audit trail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    pub items: Vec<AuditEntry>,
    /// Pass as `after` for the next page (a block number).
    pub next: Option<String>,
}

/// Liveness and readiness.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` or what is down.
    pub status: String,
}

/// A patient's Paillier public key and the proof that it is well formed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaillierKeyView {
    /// The modulus n, big-endian, unpadded base64url.
    pub public_key: String,
    /// The proof that gcd(n, φ(n)) = 1, unpadded base64url.
    pub key_proof: String,
}

/// The public keys of a registered identity, as the ledger holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IdentityKeys {
    /// The actor id (`cc` and 40 hex digits).
    pub actor: String,
    /// Its role on the ledger.
    pub role: AccountRole,
    /// False once an admin suspended it.
    pub active: bool,
    /// The ES256 verifying key: compressed SEC1 point, unpadded base64url.
    pub signing_key: String,
    /// The HPKE public key data keys are wrapped to: SEC1 point, unpadded base64url.
    pub hpke_key: String,
    /// Patients only: the Paillier key that diagnosis codes and covered items are encrypted under.
    pub paillier: Option<PaillierKeyView>,
}
