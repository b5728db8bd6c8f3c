//! The admin's actions: approve and suspend accounts, read the audit trail.

use serde_json::Value;

use carechain_core::identity::VerifyingKey;
use carechain_core::ids::{ActorId, B64};
use carechain_core::statement::{Action, RegisterIdentity, Role, SuspendIdentity};

use super::{ActionError, Staff, parse_id};

impl Staff {
    /// Accounts, optionally only those with `status` (`pending`, `active`, `suspended`).
    pub async fn accounts(&self, status: Option<&str>) -> Result<Vec<Value>, ActionError> {
        let path = match status {
            Some(s) => format!("v1/admin/accounts?status={s}"),
            None => "v1/admin/accounts".into(),
        };
        Ok(self.relay.list_all(&path).await?)
    }

    async fn account(&self, id: &str) -> Result<Value, ActionError> {
        self.accounts(None)
            .await?
            .into_iter()
            .find(|a| a["id"].as_str() == Some(id))
            .ok_or_else(|| ActionError::Invalid(format!("no account with id {id:?}")))
    }

    /// Approves account `id`: signs its `register_identity` with the keys it signed up with.
    pub async fn approve(&self, id: &str) -> Result<Value, ActionError> {
        let account = self.account(id).await?;
        let role = match account["role"].as_str() {
            Some("doctor") => Role::Doctor,
            Some("insurer") => Role::Insurer,
            other => {
                return Err(ActionError::Invalid(format!(
                    "account {id}: expected a doctor or insurer, found {other:?}"
                )));
            }
        };
        let b64 = |name: &str| {
            account[name]
                .as_str()
                .and_then(|s| B64::decode(s).ok())
                .ok_or_else(|| ActionError::Invalid(format!("account {id}: no valid {name}")))
        };
        let signing_key = VerifyingKey::from_sec1_bytes(b64("signing_key")?.as_bytes())
            .map_err(|e| ActionError::Crypto(format!("account {id}: signing key: {e}")))?;
        let registration = RegisterIdentity {
            role,
            signing_key,
            hpke_key: b64("hpke_key")?,
            display_name: account["display_name"].as_str().unwrap_or("").to_owned(),
            paillier: None,
        };
        self.submit(
            &format!("v1/admin/accounts/{id}/approve"),
            Action::RegisterIdentity(registration),
        )
        .await
    }

    /// Suspends account `id` on the ledger and on the relay, for `reason`.
    pub async fn suspend(&self, id: &str, reason: &str) -> Result<Value, ActionError> {
        let account = self.account(id).await?;
        let actor: ActorId = parse_id(account["actor_id"].as_str().unwrap_or(""), "actor")?;
        self.submit(
            &format!("v1/admin/accounts/{id}/suspend"),
            Action::SuspendIdentity(SuspendIdentity {
                actor,
                reason: reason.to_owned(),
            }),
        )
        .await
    }

    /// The audit trail: one entry per ledger transaction, without payloads.
    pub async fn audit(&self) -> Result<Vec<Value>, ActionError> {
        Ok(self.relay.list_all("v1/admin/audit").await?)
    }
}
