//! [`PatientClient`]: the patient's side of the relay, acting for one wallet.
//! Every statement is signed inside the wallet (and logged there); the keys
//! never leave it. CPU-heavy crypto (the Paillier key proof, decryptions,
//! claim proofs) runs on tokio's blocking pool.

mod consent;
mod insurance;

use carechain_core::ids::ActorId;
use carechain_core::protocol::register::{paillier_registration, registration};
use carechain_core::statement::{Action, Role};

pub use self::consent::{OpenedRecord, RequestFilter};
pub use self::insurance::{CheckedPolicy, PolicyCheck};
use crate::error::ClientError;
use crate::session::{STATEMENT_TTL_SECS, Session, SharedWallet, lock, now};

/// The patient's connection to one relay.
pub struct PatientClient {
    session: Session,
    wallet: SharedWallet,
}

impl std::fmt::Debug for PatientClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatientClient")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl PatientClient {
    /// A client for the relay at `base_url`, signing for `ledger_audience`
    /// with `wallet`; it logs in (challenge signed by the wallet) on first use.
    pub fn new(
        base_url: &str,
        ledger_audience: &str,
        wallet: SharedWallet,
    ) -> Result<Self, ClientError> {
        let session = Session::new(base_url, ledger_audience)?;
        session.use_patient_wallet(wallet.clone());
        Ok(PatientClient { session, wallet })
    }

    /// The session (for the event socket, which authenticates with its token).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The wallet this client acts for.
    pub fn wallet(&self) -> &SharedWallet {
        &self.wallet
    }

    /// The patient's actor id.
    pub fn actor(&self) -> Result<ActorId, ClientError> {
        Ok(lock(&self.wallet)?.actor_id())
    }

    /// Logs in by signing the relay's challenge with the wallet's key.
    pub async fn login(&self) -> Result<(), ClientError> {
        self.session.login_as_patient(self.wallet.clone()).await
    }

    /// Registers the wallet's identity as a patient (self-signed, with the
    /// Paillier key and its correctness proof), then logs in.
    pub async fn register(&self, display_name: &str) -> Result<(), ClientError> {
        let wallet = self.wallet.clone();
        let display_name = display_name.to_owned();
        let registration = blocking(move || {
            let w = lock(&wallet)?;
            let paillier = paillier_registration(w.paillier_key());
            Ok(registration(
                Role::Patient,
                w.signing_key(),
                w.hpke_key(),
                &display_name,
                Some(paillier),
            ))
        })
        .await?;
        let statement = self.sign(Action::RegisterIdentity(registration))?;
        let _: serde_json::Value = self
            .session
            .post_anonymous(
                "v1/patients",
                &serde_json::json!({ "statement": statement }),
            )
            .await?;
        self.login().await
    }

    /// Signs `action` in the wallet (which logs it), valid for 5 minutes.
    fn sign(&self, action: Action) -> Result<String, ClientError> {
        let aud = self.session.ledger_audience();
        Ok(lock(&self.wallet)?.sign(
            aud,
            action,
            now(),
            STATEMENT_TTL_SECS,
            &mut carechain_core::OsRng,
        )?)
    }

    /// Signs `action` and POSTs it to `path`.
    async fn submit<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        action: Action,
    ) -> Result<T, ClientError> {
        let statement = self.sign(action)?;
        self.session.submit(path, statement).await
    }
}

/// Runs CPU-heavy `work` on tokio's blocking pool, off the I/O workers.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, ClientError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ClientError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ClientError::Internal(format!("a background computation failed: {e}")))?
}
