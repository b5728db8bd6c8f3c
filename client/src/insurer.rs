//! The insurer's operations: products, issuing policies (each covered item
//! encrypted under the patient's key), claims and payments.

use carechain_core::OsRng;
use carechain_core::ids::{ClaimId, PolicyId, ProductId};
use carechain_core::protocol::claim::encrypt_policy_items;
use carechain_core::protocol::write::paillier_key;
use carechain_core::statement::{Action, IssuePolicy, MarkPaid, PublishProduct};

use crate::error::ClientError;
use crate::patient::blocking;
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

    /// Issues purchased `policy`: each covered item encrypted under the
    /// patient's Paillier key, as the ledger publishes it; the ledger's answer.
    pub async fn issue_policy(
        &self,
        policy: PolicyId,
    ) -> Result<Submitted<PolicyState>, ClientError> {
        let state = self.policy(policy).await?;
        let product = self.product(state.product).await?;
        let patient = self.identity(&state.patient).await?;
        let paillier = patient.paillier.ok_or_else(|| {
            ClientError::Integrity(format!(
                "{}: the ledger holds no Paillier key",
                state.patient
            ))
        })?;
        let items = blocking(move || {
            let pk = paillier_key(&paillier.public_key)?;
            Ok(encrypt_policy_items(&pk, &product.items, &mut OsRng)?)
        })
        .await?;
        self.submit(
            &format!("v1/policies/{}/issue", policy.0),
            Action::IssuePolicy(IssuePolicy { policy, items }),
        )
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
