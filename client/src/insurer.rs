//! The insurer's operations: products, answering purchases (issue without
//! ciphertexts: the ledger computes each `E(M_i)`; or decline with a reason),
//! claims and payments.

use carechain_core::ids::{ClaimId, PolicyId, ProductId};
use carechain_core::statement::{Action, DeclinePolicy, IssuePolicy, MarkPaid, PublishProduct};

use crate::error::ClientError;
use crate::staff::StaffClient;
use crate::wire::Submitted;
use carechain_core::ledger::{ClaimState, PolicyState, ProductState};

impl StaffClient {
    /// Publishes `product` (its id chosen by the caller).
    pub async fn publish_product(&self, product: PublishProduct) -> Result<ProductId, ClientError> {
        let id = product.product;
        self.submit::<serde_json::Value>("v1/products", Action::PublishProduct(product))
            .await?;
        Ok(id)
    }

    /// One product.
    pub async fn product(&self, product: ProductId) -> Result<ProductState, ClientError> {
        self.session
            .get(&format!("v1/products/{}", product.0))
            .await
    }

    /// Every published product.
    pub async fn products(&self) -> Result<Vec<ProductState>, ClientError> {
        self.session.list("v1/products").await
    }

    /// Accepts purchased `policy`: it is issued and in force for the
    /// product's term. Nothing is encrypted: the ledger (rules 2) computes
    /// each covered item's `E(M_i)` from the product. The ledger's answer.
    pub async fn issue_policy(
        &self,
        policy: PolicyId,
    ) -> Result<Submitted<PolicyState>, ClientError> {
        let action = Action::IssuePolicy(IssuePolicy {
            policy,
            items: Vec::new(),
        });
        self.submit(&format!("v1/policies/{}/issue", policy.0), action)
            .await
    }

    /// Declines purchased `policy` with `reason` (shown to the patient); the ledger's answer.
    pub async fn decline_policy(
        &self,
        policy: PolicyId,
        reason: &str,
    ) -> Result<Submitted<PolicyState>, ClientError> {
        let action = Action::DeclinePolicy(DeclinePolicy {
            policy,
            reason: reason.to_owned(),
        });
        self.submit(&format!("v1/policies/{}/decline", policy.0), action)
            .await
    }

    /// One policy the insurer (or the patient) is party to.
    pub async fn policy(&self, policy: PolicyId) -> Result<PolicyState, ClientError> {
        self.session.get(&format!("v1/policies/{}", policy.0)).await
    }

    /// The insurer's policies.
    pub async fn policies(&self) -> Result<Vec<PolicyState>, ClientError> {
        self.session.list("v1/policies").await
    }

    /// The insurer's claims and their decisions (never diagnoses).
    pub async fn claims(&self) -> Result<Vec<ClaimState>, ClientError> {
        self.session.list("v1/claims").await
    }

    /// One claim.
    pub async fn claim(&self, claim: ClaimId) -> Result<ClaimState, ClientError> {
        self.session.get(&format!("v1/claims/{}", claim.0)).await
    }

    /// Marks approved `claim` paid with the insurer's `reference`; the ledger's answer.
    pub async fn mark_paid(
        &self,
        claim: ClaimId,
        reference: &str,
    ) -> Result<Submitted<ClaimState>, ClientError> {
        let action = Action::MarkPaid(MarkPaid {
            claim,
            reference: reference.to_owned(),
        });
        self.submit(&format!("v1/claims/{}/paid", claim.0), action)
            .await
    }
}
