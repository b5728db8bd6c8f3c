//! Insurance: products, purchases, policies (with the phone's check of the
//! insurer's `E(M_i)`), claims with the zero proof computed on the phone, and
//! the claim decisions.

use carechain_core::icd10::CoveredCode;
use carechain_core::ids::{B64, ClaimId, PolicyId, ProductId, RecordId};
use carechain_core::paillier::SecretKey;
use carechain_core::statement::{Action, FileClaim, PurchasePolicy};
use carechain_core::{OsRng, paillier};

use super::consent::parse_id;
use super::{Inner, RelayClient, wire};
use crate::error::{MobileError, integrity};
use crate::runtime;
use crate::types::{Claim, ClaimDecision, CoveredItem, Policy, PolicyCheck, Product};

#[uniffi::export]
impl RelayClient {
    /// Every published product.
    pub async fn products(&self) -> Result<Vec<Product>, MobileError> {
        let inner = self.inner.clone();
        runtime::spawn(async move {
            let products: Vec<wire::ProductState> = inner.list_all("v1/products").await?;
            Ok(products.into_iter().map(product_view).collect())
        })
        .await
    }

    /// Buys `product_id` (a signed purchase); returns the new policy's id.
    /// The policy is in force once the insurer issues it.
    pub async fn purchase(&self, product_id: String) -> Result<String, MobileError> {
        let product: ProductId = parse_id(&product_id, "product_id")?;
        let inner = self.inner.clone();
        runtime::spawn(async move {
            let policy = PolicyId::random(&mut OsRng);
            let action = Action::PurchasePolicy(PurchasePolicy { policy, product });
            inner.submit("v1/policies", action).await?;
            Ok(policy.0.to_string())
        })
        .await
    }

    /// The patient's policies, each issued one checked: every `E(M_i)` must
    /// decrypt to the product's covered item i.
    pub async fn policies(&self) -> Result<Vec<Policy>, MobileError> {
        let inner = self.inner.clone();
        runtime::spawn(async move {
            let policies: Vec<wire::PolicyState> = inner.list_all("v1/policies").await?;
            let mut out = Vec::with_capacity(policies.len());
            for policy in policies {
                out.push(inner.checked_policy(policy).await?);
            }
            Ok(out)
        })
        .await
    }

    /// Files a claim under `policy_id` supported by `record_id`. The phone
    /// finds the covered item the record's diagnosis equals and proves it
    /// (ρ with ρ^n ≡ E(M_i)·E(M)⁻¹ mod n²), revealing nothing else. If no item
    /// matches, nothing is filed unless `file_if_uncovered`: then the claim
    /// goes to item 0 without a valid proof, and the contract records its
    /// rejection. Returns the contract's decision.
    pub async fn file_claim(
        &self,
        policy_id: String,
        record_id: String,
        file_if_uncovered: bool,
    ) -> Result<Claim, MobileError> {
        let policy: PolicyId = parse_id(&policy_id, "policy_id")?;
        let record: RecordId = parse_id(&record_id, "record_id")?;
        let inner = self.inner.clone();
        runtime::spawn(async move { inner.file_claim(policy, record, file_if_uncovered).await })
            .await
    }

    /// The patient's claims and their decisions.
    pub async fn claims(&self) -> Result<Vec<Claim>, MobileError> {
        let inner = self.inner.clone();
        runtime::spawn(async move {
            let claims: Vec<wire::ClaimState> = inner.list_all("v1/claims").await?;
            Ok(claims.into_iter().map(claim_view).collect())
        })
        .await
    }
}

impl Inner {
    async fn checked_policy(&self, policy: wire::PolicyState) -> Result<Policy, MobileError> {
        let issued = policy.status == "issued";
        let check = if issued {
            let product: wire::ProductState =
                self.get(&format!("v1/products/{}", policy.product)).await?;
            let wallet = self.wallet.clone();
            let items = policy.items.clone();
            runtime::blocking(move || {
                let bad = mismatched_items(wallet.lock()?.paillier_key(), &product, &items);
                Ok(if bad.is_empty() {
                    PolicyCheck::Verified
                } else {
                    PolicyCheck::Mismatch { items: bad }
                })
            })
            .await?
        } else {
            PolicyCheck::NotIssued
        };
        Ok(Policy {
            policy_id: policy.policy,
            product_id: policy.product,
            insurer_id: policy.insurer,
            issued,
            purchased_at: policy.purchased_at,
            starts_at: policy.starts_at,
            ends_at: policy.ends_at,
            check,
        })
    }

    async fn file_claim(
        &self,
        policy: PolicyId,
        record: RecordId,
        file_if_uncovered: bool,
    ) -> Result<Claim, MobileError> {
        let state: wire::PolicyState = self.get(&format!("v1/policies/{}", policy.0)).await?;
        if state.status != "issued" {
            return Err(MobileError::Refused {
                status: 409,
                code: "policy_not_active".into(),
                reason: format!(
                    "policy {}: expected issued, found {}",
                    policy.0, state.status
                ),
            });
        }
        let product: wire::ProductState =
            self.get(&format!("v1/products/{}", state.product)).await?;
        let read: wire::RecordRead = self.get(&format!("v1/records/{}", record.0)).await?;
        let wallet = self.wallet.clone();
        let found = runtime::blocking(move || {
            let w = wallet.lock()?;
            prove_claim(w.paillier_key(), &product, &state.items, &read.record)
        })
        .await?;
        let (item, proof) = match found {
            Some(found) => found,
            None if file_if_uncovered => (0, self.non_proof()?),
            None => {
                return Err(MobileError::Refused {
                    status: 422,
                    code: "not_covered".into(),
                    reason: format!(
                        "record {}: its diagnosis is none of policy {}'s covered items",
                        record.0, policy.0
                    ),
                });
            }
        };
        let claim = ClaimId::random(&mut OsRng);
        let action = Action::FileClaim(FileClaim {
            claim,
            policy,
            record,
            item,
            proof: B64(proof),
        });
        self.submit("v1/claims", action).await?;
        let state: wire::ClaimState = self.get(&format!("v1/claims/{}", claim.0)).await?;
        Ok(claim_view(state))
    }

    /// Random bytes of the proof's width that are not a proof: the claim is
    /// filed so the contract records a rejection, with nothing derived from the key.
    fn non_proof(&self) -> Result<Vec<u8>, MobileError> {
        let width = self
            .wallet
            .lock()?
            .paillier_key()
            .public_key()
            .bits()
            .div_ceil(8);
        let mut bytes = vec![0u8; width];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut bytes[1..]);
        // Below n (top byte 0) and non-zero.
        bytes[width - 1] |= 1;
        Ok(bytes)
    }
}

/// The first item whose `E(M_i)` minus the record's matching ciphertext
/// (full code or category) decrypts to zero, with its proof.
fn prove_claim(
    sk: &SecretKey,
    product: &wire::ProductState,
    items: &[B64],
    record: &wire::RecordState,
) -> Result<Option<(u32, Vec<u8>)>, MobileError> {
    let pk = sk.public_key();
    let parse = |what: &str, bytes: &B64| {
        pk.ciphertext_from_bytes(bytes.as_bytes())
            .map_err(|e| integrity(format!("{what}: {e}")))
    };
    let code = parse("record code", &record.code)?;
    let category = parse("record category", &record.code_category)?;
    for (i, (item, ct)) in product.items.iter().zip(items).enumerate() {
        let Ok(covered) = item.code.parse::<CoveredCode>() else {
            continue;
        };
        let diagnosis = match covered {
            CoveredCode::Code(_) => &code,
            CoveredCode::Category(_) => &category,
        };
        let difference = pk
            .sub(&parse("policy item", ct)?, diagnosis)
            .map_err(|e| integrity(format!("policy item {i}: {e}")))?;
        match sk.prove_zero(&difference) {
            Ok(proof) => {
                let index = u32::try_from(i).map_err(|_| integrity("too many items"))?;
                return Ok(Some((index, proof.to_bytes())));
            }
            Err(paillier::PaillierError::NotZero) => continue,
            Err(e) => return Err(integrity(format!("policy item {i}: {e}"))),
        }
    }
    Ok(None)
}

/// Indexes of the policy items that do not decrypt to the product's items.
fn mismatched_items(sk: &SecretKey, product: &wire::ProductState, items: &[B64]) -> Vec<u32> {
    let pk = sk.public_key();
    let count = product.items.len().max(items.len());
    (0..count)
        .filter(|&i| {
            let expected = product
                .items
                .get(i)
                .and_then(|item| item.code.parse::<CoveredCode>().ok())
                .map(|c| c.encode());
            let found = items.get(i).and_then(|ct| {
                pk.ciphertext_from_bytes(ct.as_bytes())
                    .and_then(|c| sk.decrypt(&c))
                    .ok()
            });
            expected.is_none() || expected != found
        })
        .filter_map(|i| u32::try_from(i).ok())
        .collect()
}

fn product_view(p: wire::ProductState) -> Product {
    Product {
        product_id: p.product,
        insurer_id: p.insurer,
        name: p.name,
        currency: p.currency,
        premium: p.premium,
        term_days: p.term_days,
        items: p
            .items
            .into_iter()
            .map(|i| CoveredItem {
                code: i.code,
                payout: i.payout,
            })
            .collect(),
    }
}

fn claim_view(c: wire::ClaimState) -> Claim {
    Claim {
        claim_id: c.claim,
        policy_id: c.policy,
        record_id: c.record,
        item: c.item,
        decision: match c.decision {
            wire::Decision::Approved { payout, currency } => {
                ClaimDecision::Approved { payout, currency }
            }
            wire::Decision::Rejected { reason } => ClaimDecision::Rejected { reason },
        },
        decided_at: c.decided_at,
        payment_reference: c.payment.map(|p| p.reference),
    }
}
