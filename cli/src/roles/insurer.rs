//! The insurer's actions: publish products, issue purchased policies with
//! `E(M_i)` under the patient's Paillier key, list claims, mark them paid.
//! The insurer never sees a record or a diagnosis, only claim decisions.

use serde_json::Value;

use carechain_core::OsRng;
use carechain_core::icd10::CoveredCode;
use carechain_core::ids::{B64, ClaimId, PolicyId, ProductId};
use carechain_core::statement::{Action, CoveredItem, IssuePolicy, MarkPaid, PublishProduct};

use super::{ActionError, Staff, parse_id};

/// A product to publish.
#[derive(Debug, Clone)]
pub struct NewProduct {
    /// Name shown to patients.
    pub name: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Premium in minor units.
    pub premium: u64,
    /// Term in days.
    pub term_days: u32,
    /// Covered codes or categories with their payouts (minor units).
    pub items: Vec<(String, u64)>,
}

/// Parses `CODE=PAYOUT` (`E11=50000`), checking the code.
pub fn parse_item(text: &str) -> Result<(String, u64), String> {
    let (code, payout) = text
        .split_once('=')
        .ok_or_else(|| format!("expected CODE=PAYOUT (E11.9=50000), found {text:?}"))?;
    code.parse::<CoveredCode>()
        .map_err(|e| format!("{code:?}: {e}"))?;
    let payout = payout
        .parse::<u64>()
        .map_err(|_| format!("payout: expected minor units (an integer), found {payout:?}"))?;
    Ok((code.to_owned(), payout))
}

impl Staff {
    /// Publishes `product`; returns its id.
    pub async fn publish(&self, product: &NewProduct) -> Result<String, ActionError> {
        if product.items.is_empty() {
            return Err(ActionError::Invalid(
                "expected at least one covered item (--item CODE=PAYOUT)".into(),
            ));
        }
        let id = ProductId::random(&mut OsRng);
        let act = Action::PublishProduct(PublishProduct {
            product: id,
            name: product.name.clone(),
            currency: product.currency.clone(),
            premium: product.premium,
            term_days: product.term_days,
            items: product
                .items
                .iter()
                .map(|(code, payout)| CoveredItem {
                    code: code.clone(),
                    payout: *payout,
                })
                .collect(),
        });
        self.submit("v1/products", act).await?;
        Ok(id.0.to_string())
    }

    /// Policies of this insurer's products (purchased and issued).
    pub async fn policies(&self) -> Result<Vec<Value>, ActionError> {
        Ok(self.relay.list_all("v1/policies").await?)
    }

    /// Issues purchased policy `policy`: `E(M_i)` for each of the product's
    /// covered items, under the buying patient's Paillier key.
    pub async fn issue(&self, policy: &str) -> Result<Value, ActionError> {
        let id: PolicyId = parse_id(policy, "policy")?;
        let state = self.relay.get(&format!("v1/policies/{policy}")).await?;
        let patient = state["patient"].as_str().unwrap_or("");
        let product_id = state["product"].as_str().unwrap_or("");
        let _: ProductId = parse_id(product_id, "policy's product")?;
        let product = self.relay.get(&format!("v1/products/{product_id}")).await?;
        let pk = self.paillier_key(patient).await?;
        let mut items = Vec::new();
        for item in product["items"].as_array().into_iter().flatten() {
            let code: CoveredCode = parse_id(item["code"].as_str().unwrap_or(""), "covered code")?;
            items.push(B64(pk.encrypt(code.encode(), &mut OsRng).to_bytes()));
        }
        self.submit(
            &format!("v1/policies/{policy}/issue"),
            Action::IssuePolicy(IssuePolicy { policy: id, items }),
        )
        .await
    }

    /// Claims under this insurer's policies, with their decisions.
    pub async fn claims(&self) -> Result<Vec<Value>, ActionError> {
        Ok(self.relay.list_all("v1/claims").await?)
    }

    /// Marks approved claim `claim` paid with payment `reference`.
    pub async fn mark_paid(&self, claim: &str, reference: &str) -> Result<Value, ActionError> {
        let id: ClaimId = parse_id(claim, "claim")?;
        self.submit(
            &format!("v1/claims/{claim}/paid"),
            Action::MarkPaid(MarkPaid {
                claim: id,
                reference: reference.to_owned(),
            }),
        )
        .await
    }
}
