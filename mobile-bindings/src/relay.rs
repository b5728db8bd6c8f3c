//! [`RelayClient`]: the patient's side of the relay for the app, a newtype
//! over [`carechain_client::PatientClient`] (as bitwarden-uniffi wraps its
//! core clients). Each method parses the app's arguments, runs the client's
//! operation on the library's runtime and converts the answer to FFI types.

use std::sync::Arc;

use carechain_client::patient::RequestFilter;
use carechain_client::{ClientError, PatientClient};
use carechain_core::ledger::RequestStatus as LedgerStatus;
use carechain_core::statement::Scope;

use crate::error::{MobileError, invalid};
use crate::runtime;
use crate::types::{
    AccessKind, AccessLogEntry, AccessRequest, Claim, MedicalRecord, Policy, Product,
    RecordCategory,
};
use crate::wallet::Wallet;

/// The phone's connection to one relay, acting for one wallet.
#[derive(uniffi::Object)]
pub struct RelayClient(pub(crate) Arc<PatientClient>);

/// Runs `op` on the client from the library's runtime.
async fn run<T, F, Fut>(client: &Arc<PatientClient>, op: F) -> Result<T, MobileError>
where
    T: Send + 'static,
    F: FnOnce(Arc<PatientClient>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, MobileError>> + Send + 'static,
{
    let client = client.clone();
    runtime::spawn(async move { op(client).await }).await
}

/// [`run`] for a list: each item converted to its FFI type.
async fn run_list<T, U, F, Fut>(client: &Arc<PatientClient>, op: F) -> Result<Vec<U>, MobileError>
where
    T: Into<U> + Send + 'static,
    U: Send + 'static,
    F: FnOnce(Arc<PatientClient>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<T>, ClientError>> + Send + 'static,
{
    run(client, |c| async move {
        Ok(op(c).await?.into_iter().map(Into::into).collect())
    })
    .await
}

/// Parses an id argument.
fn parse_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, MobileError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| invalid(format!("{what}: expected a UUID, found {text:?}: {e}")))
}

#[uniffi::export]
impl RelayClient {
    /// A client for the relay at `base_url` (`https://…`; `http://` for
    /// loopback tests), signing statements for `ledger_audience` (the `aud`
    /// the relay's ledger was initialised with, `carechain` by default).
    #[uniffi::constructor]
    pub fn new(
        base_url: String,
        ledger_audience: String,
        wallet: Arc<Wallet>,
    ) -> Result<Arc<Self>, MobileError> {
        let client = PatientClient::new(&base_url, &ledger_audience, wallet.0.clone())?;
        Ok(Arc::new(RelayClient(Arc::new(client))))
    }

    /// Registers this wallet's identity as a patient (self-signed, with the
    /// Paillier key and its correctness proof), then logs in.
    pub async fn register(&self, display_name: String) -> Result<(), MobileError> {
        run(
            &self.0,
            |c| async move { Ok(c.register(&display_name).await?) },
        )
        .await
    }

    /// Logs in by signing the relay's challenge with the wallet's key.
    pub async fn login(&self) -> Result<(), MobileError> {
        run(&self.0, |c| async move { Ok(c.login().await?) }).await
    }

    /// Access requests waiting for the patient's answer.
    pub async fn pending_requests(&self) -> Result<Vec<AccessRequest>, MobileError> {
        self.requests(RequestFilter::Status(LedgerStatus::Pending))
            .await
    }

    /// Every access request made of the patient, any status.
    pub async fn access_requests(&self) -> Result<Vec<AccessRequest>, MobileError> {
        self.requests(RequestFilter::All).await
    }

    /// Current grants (granted and not yet expired).
    pub async fn grants(&self) -> Result<Vec<AccessRequest>, MobileError> {
        self.requests(RequestFilter::InForce).await
    }

    /// Grants request `request_id`: `actions` and `categories` (`None` for
    /// every category) no wider than asked, until `expires_at` (Unix seconds).
    pub async fn approve(
        &self,
        request_id: String,
        actions: Vec<AccessKind>,
        categories: Option<Vec<RecordCategory>>,
        expires_at: i64,
    ) -> Result<(), MobileError> {
        let request = parse_id(&request_id, "request_id")?;
        let scope = match categories {
            None => Scope::All,
            Some(list) => Scope::Categories(list.into_iter().map(Into::into).collect()),
        };
        let actions = actions.into_iter().map(Into::into).collect();
        run(&self.0, move |c| async move {
            Ok(c.approve(request, actions, scope, expires_at).await?)
        })
        .await
    }

    /// Refuses request `request_id`.
    pub async fn deny(&self, request_id: String) -> Result<(), MobileError> {
        let request = parse_id(&request_id, "request_id")?;
        run(&self.0, move |c| async move { Ok(c.deny(request).await?) }).await
    }

    /// Withdraws the grant of request `request_id`, effective at once.
    pub async fn revoke(&self, request_id: String) -> Result<(), MobileError> {
        let request = parse_id(&request_id, "request_id")?;
        run(
            &self.0,
            move |c| async move { Ok(c.revoke(request).await?) },
        )
        .await
    }

    /// The patient's records, decrypted on the phone, each with the check of
    /// its encrypted diagnosis code against the payload.
    pub async fn records(&self) -> Result<Vec<MedicalRecord>, MobileError> {
        run_list(&self.0, |c| async move { c.records().await }).await
    }

    /// One of the patient's records, decrypted and checked.
    pub async fn record(&self, record_id: String) -> Result<MedicalRecord, MobileError> {
        let record = parse_id(&record_id, "record_id")?;
        run(&self.0, move |c| async move {
            Ok(c.record(record).await?.into())
        })
        .await
    }

    /// Who read the patient's records, and when.
    pub async fn access_log(&self) -> Result<Vec<AccessLogEntry>, MobileError> {
        run_list(&self.0, |c| async move { c.access_log().await }).await
    }

    /// Every published product.
    pub async fn products(&self) -> Result<Vec<Product>, MobileError> {
        run_list(&self.0, |c| async move { c.products().await }).await
    }

    /// Buys `product_id` (a signed purchase); returns the new policy's id.
    /// The policy is in force once the insurer issues it.
    pub async fn purchase(&self, product_id: String) -> Result<String, MobileError> {
        let product = parse_id(&product_id, "product_id")?;
        run(&self.0, move |c| async move {
            Ok(c.buy(product).await?.0.to_string())
        })
        .await
    }

    /// The patient's policies, each with its check: a declined one with the
    /// insurer's reason; one issued without ciphertexts needs none (the
    /// ledger computes each `E(M_i)`); one issued with the insurer's
    /// ciphertexts (older ledgers) must have every `E(M_i)` decrypt to the
    /// product's covered item i.
    pub async fn policies(&self) -> Result<Vec<Policy>, MobileError> {
        run_list(&self.0, |c| async move { c.policies().await }).await
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
        let policy = parse_id(&policy_id, "policy_id")?;
        let record = parse_id(&record_id, "record_id")?;
        run(&self.0, move |c| async move {
            Ok(c.file_claim(policy, record, file_if_uncovered)
                .await?
                .into())
        })
        .await
    }

    /// The patient's claims and their decisions.
    pub async fn claims(&self) -> Result<Vec<Claim>, MobileError> {
        run_list(&self.0, |c| async move { c.claims().await }).await
    }
}

impl RelayClient {
    async fn requests(&self, filter: RequestFilter) -> Result<Vec<AccessRequest>, MobileError> {
        run(&self.0, move |c| async move {
            Ok(c.requests(filter)
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }
}
