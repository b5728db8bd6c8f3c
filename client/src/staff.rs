//! [`StaffClient`]: a doctor, insurer or admin on the relay, with its keys
//! (a [`StaffKeys`] keystore) and its password login. The role operations
//! live in [`crate::doctor`], [`crate::insurer`] and [`crate::admin`].

use carechain_core::ids::{ActorId, B64};
use carechain_core::statement::{Action, Role};
use carechain_core::wallet::StaffKeys;
use serde::de::DeserializeOwned;

use crate::error::ClientError;
use crate::session::{Session, sign_as};
use crate::wire::{Account, IdentityKeys, Signup};

/// A staff member's connection to one relay.
pub struct StaffClient {
    pub(crate) session: Session,
    pub(crate) keys: StaffKeys,
}

impl std::fmt::Debug for StaffClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffClient")
            .field("session", &self.session)
            .field("keys", &self.keys)
            .finish()
    }
}

impl StaffClient {
    /// A client for the relay at `base_url` signing for `ledger_audience` with `keys`.
    pub fn new(
        base_url: &str,
        ledger_audience: &str,
        keys: StaffKeys,
    ) -> Result<Self, ClientError> {
        Ok(StaffClient {
            session: Session::new(base_url, ledger_audience)?,
            keys,
        })
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The ledger actor id of these keys.
    pub fn actor(&self) -> ActorId {
        self.keys.signing.actor_id()
    }

    /// Signs up a doctor or insurer account with these keys; it stays
    /// `pending` until an admin approves it.
    pub async fn sign_up(
        &self,
        role: Role,
        email: &str,
        password: &str,
        display_name: &str,
    ) -> Result<Account, ClientError> {
        let body = Signup {
            email,
            password,
            role,
            display_name,
            signing_key: B64(self.keys.signing.verifying_key().to_sec1_bytes()).encode(),
            hpke_key: B64(self.keys.hpke.public_key().to_bytes()).encode(),
        };
        self.session.post_anonymous("v1/accounts", &body).await
    }

    /// Logs in with the account's e-mail and password.
    pub async fn login(&self, email: &str, password: &str) -> Result<(), ClientError> {
        self.session.login_with_password(email, password).await
    }

    /// The account logged in.
    pub async fn me(&self) -> Result<Account, ClientError> {
        self.session.get("v1/me").await
    }

    /// An identity's public keys as the ledger holds them.
    pub async fn identity(&self, actor: &ActorId) -> Result<IdentityKeys, ClientError> {
        self.session.get(&format!("v1/identities/{actor}")).await
    }

    /// Signs `action` with the staff key and POSTs it to `path` (relative);
    /// the relay's answer. The role operations are built on it.
    pub async fn submit<T: DeserializeOwned>(
        &self,
        path: &str,
        action: Action,
    ) -> Result<T, ClientError> {
        let statement = sign_as(&self.keys.signing, self.session.ledger_audience(), action)?;
        self.session.submit(path, statement).await
    }
}
