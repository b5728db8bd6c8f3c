//! Test-only doctor, insurer and admin handles (feature `testkit`), so the
//! foreign-language end-to-end tests can drive the other roles of the story
//! with real keys. Thin wrappers over [`carechain_client::StaffClient`]; never
//! part of an app build (a later change moves them out of the cdylib).

use std::sync::Arc;

use carechain_client::doctor::AccessAsk;
use carechain_client::{ClientError, StaffClient};
use carechain_core::OsRng;
use carechain_core::icd10::Icd10Code;
use carechain_core::ids::{ActorId, ProductId};
use carechain_core::protocol::fhir;
use carechain_core::statement::{
    AccessAction, CoveredItem, PublishProduct, PurposeOfUse, RecordCategory, Role, Scope,
};
use carechain_core::wallet::StaffKeys;

use crate::error::{MobileError, invalid};
use crate::runtime;

/// Which staff role to enrol.
#[derive(Clone, Copy, Debug, uniffi::Enum)]
pub enum TestRole {
    /// A doctor.
    Doctor,
    /// An insurer.
    Insurer,
}

/// The relay's admin, with the keys from its sealed keystore.
#[derive(uniffi::Object)]
pub struct TestAdmin(Arc<StaffClient>);

/// A doctor or insurer enrolled by [`TestAdmin::enrol`].
#[derive(uniffi::Object)]
pub struct TestStaff(Arc<StaffClient>);

/// Runs a staff operation on the library's runtime. As before the move onto
/// the client, every relay refusal of a staff action is `Refused` (a 404 of
/// a doctor without a grant too), which the stories assert.
async fn staff<T, F>(op: F) -> Result<T, MobileError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, ClientError>> + Send + 'static,
{
    runtime::spawn(async move {
        op.await.map_err(|e| match e {
            ClientError::NotFound { detail } => MobileError::Refused {
                status: 404,
                code: "not_found".into(),
                reason: detail,
            },
            other => other.into(),
        })
    })
    .await
}

fn parse<T: std::str::FromStr>(text: &str) -> Result<T, MobileError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| invalid(format!("{text:?}: {e}")))
}

/// Opens the relay's admin keystore (`carechain-relay init` format) and logs the admin in.
#[uniffi::export]
pub async fn testkit_admin(
    base_url: String,
    ledger_audience: String,
    keystore: Vec<u8>,
    keystore_passphrase: String,
    email: String,
    password: String,
) -> Result<Arc<TestAdmin>, MobileError> {
    runtime::spawn(async move {
        let keys = StaffKeys::open(&keystore, &keystore_passphrase)
            .map_err(|_| MobileError::WrongSecret)?;
        let admin = StaffClient::new(&base_url, &ledger_audience, keys)?;
        admin.login(&email, &password).await?;
        Ok(Arc::new(TestAdmin(Arc::new(admin))))
    })
    .await
}

#[uniffi::export]
impl TestAdmin {
    /// Signs up a doctor or insurer with fresh keys, approves it (registering
    /// its identity on the ledger) and logs it in.
    pub async fn enrol(
        &self,
        role: TestRole,
        email: String,
        password: String,
        display_name: String,
    ) -> Result<Arc<TestStaff>, MobileError> {
        let admin = self.0.clone();
        runtime::spawn(async move {
            let session = admin.session();
            let staff = StaffClient::new(
                session.base().as_str(),
                session.ledger_audience(),
                StaffKeys::generate(&mut OsRng),
            )?;
            let role = match role {
                TestRole::Doctor => Role::Doctor,
                TestRole::Insurer => Role::Insurer,
            };
            let account = staff
                .sign_up(role, &email, &password, &display_name)
                .await?;
            admin.approve_account(&account).await?;
            staff.login(&email, &password).await?;
            Ok(Arc::new(TestStaff(Arc::new(staff))))
        })
        .await
    }
}

#[uniffi::export]
impl TestStaff {
    /// The ledger actor id.
    pub fn actor_id(&self) -> String {
        self.0.actor().to_string()
    }

    /// A doctor asks `patient_id` for read and write on every record for 30 days.
    pub async fn request_access(&self, patient_id: String) -> Result<String, MobileError> {
        let patient: ActorId = parse(&patient_id)?;
        let s = self.0.clone();
        staff(async move {
            let ask = AccessAsk {
                patient,
                actions: vec![AccessAction::Read, AccessAction::Write],
                scope: Scope::All,
                purpose: PurposeOfUse::Treat,
                duration_secs: 30 * 86_400,
            };
            Ok(s.request_access(ask).await?.0.to_string())
        })
        .await
    }

    /// A doctor writes a FHIR `Condition` with ICD-10-CM `code` for the
    /// patient, wrapping the data key for every reader the relay lists. If
    /// `lie_about_code` is set, `E(code)` encrypts that code instead, to
    /// exercise the phone's mismatch check. `patient_paillier_key` is unused:
    /// the client reads the patient's key from the ledger.
    pub async fn write_condition(
        &self,
        patient_id: String,
        patient_paillier_key: Vec<u8>,
        code: String,
        lie_about_code: Option<String>,
    ) -> Result<String, MobileError> {
        let _ = patient_paillier_key;
        let patient: ActorId = parse(&patient_id)?;
        let encrypted: Option<Icd10Code> = lie_about_code.as_deref().map(parse).transpose()?;
        let s = self.0.clone();
        staff(async move {
            let json = fhir::condition(patient.as_str(), &code, "").to_string();
            let general = RecordCategory::General;
            let record = match encrypted {
                Some(lie) => {
                    s.write_record_encrypting(&patient, general, &json, &lie)
                        .await?
                }
                None => s.write_record(&patient, general, &json).await?,
            };
            Ok(record.0.to_string())
        })
        .await
    }

    /// A doctor reads a record (logged on the ledger) and returns its FHIR JSON.
    pub async fn read_record(&self, record_id: String) -> Result<String, MobileError> {
        let record = parse(&record_id)?;
        let s = self.0.clone();
        staff(async move { Ok(s.read_record(record).await?.fhir_json) }).await
    }

    /// An insurer publishes a one-item product covering `code` (a code or category).
    pub async fn publish_product(
        &self,
        name: String,
        code: String,
        payout: u64,
    ) -> Result<String, MobileError> {
        parse::<carechain_core::icd10::CoveredCode>(&code)?;
        let s = self.0.clone();
        staff(async move {
            let product = PublishProduct {
                product: ProductId::random(&mut OsRng),
                name,
                currency: "EUR".into(),
                premium: 1_000,
                term_days: 365,
                items: vec![CoveredItem { code, payout }],
            };
            Ok(s.publish_product(product).await?.0.to_string())
        })
        .await
    }

    /// An insurer issues purchased `policy_id`, encrypting each covered item
    /// under the patient's Paillier key (read from the ledger;
    /// `patient_paillier_key` is unused).
    pub async fn issue_policy(
        &self,
        policy_id: String,
        patient_paillier_key: Vec<u8>,
    ) -> Result<(), MobileError> {
        let _ = patient_paillier_key;
        let policy = parse(&policy_id)?;
        let s = self.0.clone();
        staff(async move { s.issue_policy(policy).await }).await
    }
}
