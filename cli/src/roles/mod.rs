//! What doctors, insurers and admins do, as library calls the subcommands
//! and the demo share: every statement is signed and every record encrypted
//! here, with the keys from the local keystore; the relay only forwards.

pub mod admin;
pub mod doctor;
pub mod insurer;

use serde_json::{Value, json};

use carechain_api::keystore::AdminKeys;
use carechain_core::ids::B64;
use carechain_core::statement::Action;

use crate::fhir::FhirError;
use crate::relay::{Relay, RelayError, field};

/// Why an action could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The relay refused, could not be reached, or answered oddly.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// The FHIR document was refused before anything was sent.
    #[error("invalid FHIR record, nothing was sent: {0}")]
    Fhir(#[from] FhirError),
    /// An argument is malformed.
    #[error("{0}")]
    Invalid(String),
    /// Data from the relay failed a cryptographic check.
    #[error("cryptographic check failed: {0}")]
    Crypto(String),
}

/// The role a staff account signs up for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StaffRole {
    /// A doctor.
    Doctor,
    /// An insurer.
    Insurer,
}

impl StaffRole {
    /// The relay's name for the role.
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Doctor => "doctor",
            StaffRole::Insurer => "insurer",
        }
    }
}

/// A logged-in doctor, insurer or admin with its keys.
pub struct Staff {
    /// The relay, with this account's bearer token.
    pub relay: Relay,
    /// The account's keys.
    pub keys: AdminKeys,
    /// The ledger audience statements are signed for.
    pub audience: String,
}

impl Staff {
    /// Signs `act` and posts it to `path`.
    pub async fn submit(&self, path: &str, act: Action) -> Result<Value, ActionError> {
        Ok(self
            .relay
            .submit(path, &self.keys.signing, &self.audience, act)
            .await?)
    }
}

/// Signs a doctor or insurer up with the public halves of `keys`; returns the account id (pending).
pub async fn signup(
    relay: &Relay,
    keys: &AdminKeys,
    role: StaffRole,
    email: &str,
    password: &str,
    display_name: &str,
) -> Result<String, ActionError> {
    let body = json!({
        "email": email, "password": password, "role": role.as_str(),
        "display_name": display_name,
        "signing_key": B64(keys.signing.verifying_key().to_sec1_bytes()).encode(),
        "hpke_key": B64(keys.hpke.public_key().to_bytes()).encode(),
    });
    let account = relay.post("v1/accounts", &body).await?;
    Ok(field(&account, "id", "POST /v1/accounts")?.to_owned())
}

/// Parses an id of type `T` named `what`.
pub fn parse_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, ActionError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| ActionError::Invalid(format!("{what}: {e}: {text:?}")))
}
