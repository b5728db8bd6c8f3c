//! The admin's operations: approving and suspending doctor and insurer
//! accounts (each a statement the admin signs), and the audit trail.

use carechain_core::identity::VerifyingKey;
use carechain_core::ids::{ActorId, B64};
use carechain_core::statement::{Action, RegisterIdentity, SuspendIdentity};

use crate::error::ClientError;
use crate::staff::StaffClient;
use crate::wire::{Account, AccountStatus, Approval, AuditEntry, Submitted};
use carechain_core::ledger::Registered;

impl StaffClient {
    /// Accounts, optionally of one status.
    pub async fn accounts(
        &self,
        status: Option<AccountStatus>,
    ) -> Result<Vec<Account>, ClientError> {
        let path = match status {
            Some(s) => format!("v1/admin/accounts?status={}", s.as_str()),
            None => "v1/admin/accounts".to_owned(),
        };
        self.session.list(&path).await
    }

    /// Approves a pending doctor or insurer `account`: registers its keys on
    /// the ledger (admin-signed) and activates it; the ledger's answer.
    pub async fn approve_account(
        &self,
        account: &Account,
    ) -> Result<Submitted<Approval>, ClientError> {
        let key = |what: &str, v: &Option<String>| {
            v.as_deref()
                .and_then(|k| B64::decode(k).ok())
                .ok_or_else(|| ClientError::Integrity(format!("account {}: no {what}", account.id)))
        };
        let signing_key =
            VerifyingKey::from_sec1_bytes(key("signing key", &account.signing_key)?.as_bytes())
                .map_err(|e| ClientError::Integrity(format!("account {}: {e}", account.id)))?;
        let registration = RegisterIdentity {
            role: account.role,
            signing_key,
            hpke_key: key("HPKE key", &account.hpke_key)?,
            display_name: account.display_name.clone(),
            paillier: None,
        };
        self.submit(
            &format!("v1/admin/accounts/{}/approve", account.id),
            Action::RegisterIdentity(registration),
        )
        .await
    }

    /// Suspends the account `account_id` of ledger actor `actor`, for
    /// `reason`; the ledger's answer.
    pub async fn suspend_account(
        &self,
        account_id: &str,
        actor: ActorId,
        reason: &str,
    ) -> Result<Submitted<Registered>, ClientError> {
        let action = Action::SuspendIdentity(SuspendIdentity {
            actor,
            reason: reason.to_owned(),
        });
        self.submit(&format!("v1/admin/accounts/{account_id}/suspend"), action)
            .await
    }

    /// The audit trail: every transaction's metadata, never payloads.
    pub async fn audit(&self) -> Result<Vec<AuditEntry>, ClientError> {
        self.session.list("v1/admin/audit").await
    }
}
