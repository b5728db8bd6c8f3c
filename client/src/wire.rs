//! The relay's own JSON bodies (accounts, tokens, answers of a forwarded
//! statement); ledger objects are the typed [`carechain_core::ledger`] ones. Unknown
//! fields are ignored so a newer relay does not break an older client.

use carechain_core::envelope::{SealedPayload, WrappedKey};
use carechain_core::ids::{ActorId, B64};
use carechain_core::statement::{PaillierRegistration, Role};
use serde::{Deserialize, Serialize};

use carechain_core::ledger::{RecordState, WrappedKeyState};

/// Tokens from a login or refresh.
#[derive(Deserialize)]
pub(crate) struct Tokens {
    /// The bearer token.
    pub access_token: String,
    /// The refresh token, if the relay rotates them.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// A patient login challenge.
#[derive(Debug, Deserialize)]
pub(crate) struct Challenge {
    /// The nonce to sign.
    pub challenge: String,
    /// The relay audience to sign for.
    pub audience: String,
}

/// The ledger's answer to a forwarded statement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Submitted<T> {
    /// The transaction.
    pub tx_id: String,
    /// Its block.
    pub block: u64,
    /// The contract's result (the object written, or its decision).
    pub result: T,
}

/// A record and its data key wrapped for the caller.
#[derive(Clone, Debug, Deserialize)]
pub struct RecordRead {
    /// The logging transaction of a doctor's read.
    #[serde(default)]
    pub tx_id: Option<String>,
    /// The record.
    pub record: RecordState,
    /// Its data key, wrapped for the caller.
    pub key: WrappedKeyState,
}

impl RecordRead {
    /// The record's sealed payload and the data key wrapped for the caller.
    pub fn envelope(&self) -> (SealedPayload, WrappedKey) {
        envelope(&self.record, &self.key)
    }
}

/// A record's sealed payload and a data key wrapped for one reader.
pub fn envelope(record: &RecordState, key: &WrappedKeyState) -> (SealedPayload, WrappedKey) {
    let sealed = SealedPayload {
        nonce: record.nonce.clone(),
        ciphertext: record.payload.clone(),
    };
    let wrapped = WrappedKey {
        enc: key.enc.clone(),
        ciphertext: key.ciphertext.clone(),
    };
    (sealed, wrapped)
}

/// An identity's public keys as the ledger holds them (`GET /v1/identities/{actor}`).
#[derive(Clone, Debug, Deserialize)]
pub struct IdentityKeys {
    /// The actor.
    pub actor: ActorId,
    /// Its role.
    pub role: Role,
    /// False once suspended.
    pub active: bool,
    /// The HPKE public key data keys are wrapped to.
    pub hpke_key: B64,
    /// A patient's Paillier key and its proof.
    #[serde(default)]
    pub paillier: Option<PaillierRegistration>,
}

/// A doctor's or insurer's sign-up.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Signup<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub role: Role,
    pub display_name: &'a str,
    pub signing_key: String,
    pub hpke_key: String,
}

/// Where an account stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Signed up, awaiting an admin's approval.
    Pending,
    /// Approved: its identity is on the ledger.
    Active,
    /// Suspended by an admin.
    Suspended,
}

impl AccountStatus {
    /// The status's wire name (`pending`, `active`, `suspended`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
        }
    }
}

/// What approving an account put on the ledger: the identity registered or,
/// when an earlier approval had already registered the keys, that actor adopted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Approval {
    /// The account's ledger actor.
    pub actor: ActorId,
    /// Its role, when registered now.
    #[serde(default)]
    pub role: Option<Role>,
    /// True when an earlier approval's registration was adopted.
    #[serde(default)]
    pub adopted: bool,
}

/// An account as the relay shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    /// Account id.
    pub id: String,
    /// Role.
    pub role: Role,
    /// Login e-mail (staff).
    #[serde(default)]
    pub email: Option<String>,
    /// Ledger actor id, once known.
    #[serde(default)]
    pub actor_id: Option<ActorId>,
    /// Display name.
    pub display_name: String,
    /// Pending, active or suspended.
    pub status: AccountStatus,
    /// When created.
    pub created_at: i64,
    /// The signing key (SEC1, base64url) the admin registers.
    #[serde(default)]
    pub signing_key: Option<String>,
    /// The HPKE public key (base64url).
    #[serde(default)]
    pub hpke_key: Option<String>,
}

/// One transaction of the audit trail: metadata, never payloads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Block number.
    pub block: u64,
    /// Transaction id.
    pub tx_id: String,
    /// Ledger time.
    pub time: i64,
    /// The action's kind.
    pub action: String,
    /// The signer, if any.
    #[serde(default)]
    pub signer: Option<ActorId>,
    /// Whether the contract accepted it.
    pub valid: bool,
    /// The contract's code if refused.
    #[serde(default)]
    pub error_code: Option<String>,
}
