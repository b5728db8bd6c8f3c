//! Insurance: products, purchases, policies checked against their products,
//! and claims proved on the phone.

use carechain_core::OsRng;
use carechain_core::ids::{B64, ClaimId, PolicyId, ProductId, RecordId};
use carechain_core::protocol::check::check_policy;
use carechain_core::protocol::claim::{Diagnosis, find_claim_item, non_proof};
use carechain_core::statement::{Action, FileClaim, PurchasePolicy};

use super::{PatientClient, blocking};
use crate::error::ClientError;
use crate::session::lock;
use crate::wire::Submitted;
use carechain_core::ledger::{ClaimContext, ClaimState, PolicyState, PolicyStatus, ProductState};

/// The phone's check of a policy's `E(M_i)` against its product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyCheck {
    /// Not answered by the insurer yet: nothing to check.
    NotIssued,
    /// Declined by the insurer, with its reason: never in force.
    Declined {
        /// The insurer's reason.
        reason: String,
    },
    /// Issued without ciphertexts (ledger rules 2): the contract computes
    /// each `E(M_i)` from the product, so there is nothing of the insurer's
    /// to get wrong or to check.
    Computed,
    /// Issued with the insurer's ciphertexts (ledger rules ≤ 1), and every
    /// `E(M_i)` decrypts to the product's covered item i.
    Verified,
    /// These items do not: the policy would not pay for them.
    Mismatch {
        /// The indexes of the wrong items.
        items: Vec<u32>,
    },
}

/// A policy and its check.
#[derive(Clone, Debug)]
pub struct CheckedPolicy {
    /// The policy as the ledger stores it.
    pub state: PolicyState,
    /// The check of its items.
    pub check: PolicyCheck,
}

impl PatientClient {
    /// Every published product.
    pub async fn products(&self) -> Result<Vec<ProductState>, ClientError> {
        self.session.list("v1/products").await
    }

    /// Buys `product` (a signed purchase); the new policy's id. The policy is
    /// in force once the insurer issues it.
    pub async fn buy(&self, product: ProductId) -> Result<PolicyId, ClientError> {
        let policy = PolicyId::random(&mut OsRng);
        let action = Action::PurchasePolicy(PurchasePolicy { policy, product });
        self.submit::<serde_json::Value>("v1/policies", action)
            .await?;
        Ok(policy)
    }

    /// The patient's policies, each issued one checked against its product.
    pub async fn policies(&self) -> Result<Vec<CheckedPolicy>, ClientError> {
        let policies: Vec<PolicyState> = self.session.list("v1/policies").await?;
        let mut out = Vec::with_capacity(policies.len());
        for state in policies {
            let check = match (&state.status, &state.declined) {
                (PolicyStatus::Purchased, _) => Some(PolicyCheck::NotIssued),
                (PolicyStatus::Declined, declined) => Some(PolicyCheck::Declined {
                    reason: declined
                        .as_ref()
                        .map(|d| d.reason.clone())
                        .unwrap_or_default(),
                }),
                (PolicyStatus::Issued, _) if state.items.is_empty() => Some(PolicyCheck::Computed),
                (PolicyStatus::Issued, _) => None,
            };
            if let Some(check) = check {
                out.push(CheckedPolicy { state, check });
                continue;
            }
            let product: ProductState = self
                .session
                .get(&format!("v1/products/{}", state.product.0))
                .await?;
            let wallet = self.wallet.clone();
            out.push(
                blocking(move || {
                    let bad =
                        check_policy(lock(&wallet)?.paillier_key(), &product.items, &state.items);
                    let check = if bad.is_empty() {
                        PolicyCheck::Verified
                    } else {
                        PolicyCheck::Mismatch { items: bad }
                    };
                    Ok(CheckedPolicy { state, check })
                })
                .await?,
            );
        }
        Ok(out)
    }

    /// Files a claim under `policy` supported by `record`: finds the covered
    /// item the record's diagnosis equals and proves it (ρ), revealing
    /// nothing else. If no item matches, nothing is filed unless
    /// `file_if_uncovered`: then item 0 is claimed without a valid proof and
    /// the contract records its rejection. The contract's decision, as the
    /// POST answers it.
    pub async fn file_claim(
        &self,
        policy: PolicyId,
        record: RecordId,
        file_if_uncovered: bool,
    ) -> Result<ClaimState, ClientError> {
        // One answer holds the policy, its product and the record: with the
        // POST, whose answer is the decision, a claim takes two requests.
        let context: ClaimContext = self
            .session
            .get(&format!(
                "v1/policies/{}/claim-context?record={}",
                policy.0, record.0
            ))
            .await?;
        if context.policy.status != PolicyStatus::Issued {
            return Err(ClientError::Precondition {
                code: "policy_not_active",
                detail: format!(
                    "policy {}: expected issued, found {:?}",
                    policy.0, context.policy.status
                ),
            });
        }
        let wallet = self.wallet.clone();
        let found = blocking(move || {
            let w = lock(&wallet)?;
            let sk = w.paillier_key();
            let diagnosis = Diagnosis {
                code: &context.record.code,
                category: &context.record.code_category,
            };
            let items = &context.product.items;
            let found = find_claim_item(sk, items, &context.policy.items, diagnosis)?;
            Ok(match found {
                Some(found) => Some(found),
                None if file_if_uncovered => Some((0, non_proof(sk.public_key(), &mut OsRng))),
                None => None,
            })
        })
        .await?;
        let Some((item, proof)) = found else {
            return Err(ClientError::Precondition {
                code: "not_covered",
                detail: format!(
                    "record {}: its diagnosis is none of policy {}'s covered items",
                    record.0, policy.0
                ),
            });
        };
        let claim = ClaimId::random(&mut OsRng);
        let action = Action::FileClaim(FileClaim {
            claim,
            policy,
            record,
            item,
            proof: B64(proof),
        });
        Ok(self
            .submit::<Submitted<ClaimState>>("v1/claims", action)
            .await?
            .result)
    }

    /// The patient's claims and their decisions.
    pub async fn claims(&self) -> Result<Vec<ClaimState>, ClientError> {
        self.session.list("v1/claims").await
    }
}
