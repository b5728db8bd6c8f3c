//! The admin, doctors and insurers: real keys, every step through
//! `carechain-client`'s [`StaffClient`], as their tools (the `carechain` CLI)
//! do. Helpers that are meant to succeed assert it; the `try_…` ones return
//! the client's answer so a scenario can assert the refusal with [`refused`].

use serde_json::Value;

use carechain_client::doctor::AccessAsk;
use carechain_client::wire::{AccountStatus, IdentityKeys};
use carechain_client::{ClientError, StaffClient, StaffKeys};
use carechain_core::OsRng;
use carechain_core::icd10::Icd10Code;
use carechain_core::ids::{ActorId, B64, ClaimId, PolicyId, ProductId, RecordId, RequestId};
use carechain_core::ledger::{ClaimState, PolicyStatus, Reader};
use carechain_core::protocol::fhir;
use carechain_core::protocol::write::{RecordWrite, paillier_key};
use carechain_core::statement::*;

use crate::relay::{ADMIN_EMAIL, ADMIN_PASSWORD, KEYSTORE_PASSPHRASE, LEDGER_AUDIENCE, Relay};

/// A staff member (admin, doctor or insurer) logged in to the relay: the
/// client, and the steps the scenarios take with it.
pub struct Staff(pub StaffClient);

impl std::ops::Deref for Staff {
    type Target = StaffClient;

    fn deref(&self) -> &StaffClient {
        &self.0
    }
}

/// Asserts `answer` is a refusal with HTTP `status` and problem code `code`
/// (the relay's RFC 9457 problem, decoded by the client).
#[track_caller]
pub fn refused<T: std::fmt::Debug>(answer: Result<T, ClientError>, status: u16, code: &str) {
    match answer {
        Err(err) => assert!(
            err.status() == Some(status) && err.code() == Some(code),
            "expected {status} {code}, found {err:?}"
        ),
        Ok(found) => panic!("expected {status} {code}, found success {found:?}"),
    }
}

/// Opens the relay's admin keystore and logs the admin in.
pub async fn admin(relay: &Relay) -> Staff {
    let keys = StaffKeys::open(&relay.admin_keystore(), KEYSTORE_PASSPHRASE)
        .expect("the admin keystore opens with its passphrase");
    let admin = StaffClient::new(&relay.url, LEDGER_AUDIENCE, keys).expect("a staff client");
    admin
        .login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("the admin logs in");
    Staff(admin)
}

/// Signs up a doctor or insurer with fresh keys, has `admin` approve it (its
/// identity goes on the ledger) and logs it in.
pub async fn enrol(admin: &Staff, role: Role, name: &str) -> Staff {
    let session = admin.session();
    let keys = StaffKeys::generate(&mut OsRng);
    let staff = StaffClient::new(session.base().as_str(), session.ledger_audience(), keys)
        .expect("a staff client");
    let email = format!("{name}-{}@example.org", uuid::Uuid::new_v4().simple());
    let password = "a long enough password";
    let account = staff
        .sign_up(role, &email, password, name)
        .await
        .expect("the sign-up is accepted");
    assert_eq!(account.status, AccountStatus::Pending, "{account:?}");
    // A pending account cannot act yet.
    let early = staff.login(&email, password).await;
    assert!(
        matches!(
            early.as_ref().err().and_then(ClientError::status),
            Some(400..=499)
        ),
        "a pending account logged in: {early:?}"
    );
    let approved = admin
        .approve_account(&account)
        .await
        .expect("the admin approves");
    assert_eq!(approved.result.actor, staff.actor(), "{approved:?}");
    staff
        .login(&email, password)
        .await
        .expect("the approved account logs in");
    Staff(staff)
}

/// The FHIR `Condition` a doctor writes for `patient` with ICD-10-CM `code`.
pub fn condition(patient: &ActorId, code: &str) -> String {
    fhir::condition(patient.as_str(), code, "").to_string()
}

impl Staff {
    /// The ledger actor id.
    pub fn id(&self) -> ActorId {
        self.actor()
    }

    /// A doctor asks `patient` for `actions` on every record for 30 days.
    pub async fn request_access(&self, patient: &ActorId, actions: Vec<AccessAction>) -> RequestId {
        self.try_request_access(patient, actions)
            .await
            .expect("the request is sent")
    }

    /// A staff member asks `patient` for `actions` on every record for 30 days.
    pub async fn try_request_access(
        &self,
        patient: &ActorId,
        actions: Vec<AccessAction>,
    ) -> Result<RequestId, ClientError> {
        let ask = AccessAsk {
            patient: patient.clone(),
            actions,
            scope: Scope::All,
            purpose: PurposeOfUse::Treat,
            duration_secs: 30 * 86_400,
        };
        self.0.request_access(ask).await
    }

    /// The readers the relay lists for a new `general` record of `patient`.
    pub async fn try_readers(&self, patient: &ActorId) -> Result<Vec<Reader>, ClientError> {
        self.session()
            .get(&format!("v1/patients/{patient}/readers?category=general"))
            .await
    }

    /// A `write_record` of a `Condition` with `code`, its data key wrapped for
    /// `readers` only, signed and sent as is (a test plays a doctor that skips
    /// the relay's list of readers).
    pub async fn try_write_for(
        &self,
        patient: &ActorId,
        code: &str,
        readers: &[(ActorId, B64)],
    ) -> Result<Value, ClientError> {
        let keys: IdentityKeys = self.identity(patient).await.expect("the patient's keys");
        let paillier = keys.paillier.expect("a patient's Paillier key");
        let pk = paillier_key(&paillier.public_key).expect("a Paillier key");
        let code: Icd10Code = code.parse().expect("an ICD-10-CM code");
        let fhir = condition(patient, &code.to_string());
        let write = RecordWrite {
            record: RecordId::random(&mut OsRng),
            patient,
            category: RecordCategory::General,
            payload: fhir.as_bytes(),
            code: &code,
            paillier_key: &pk,
            readers,
            treatment: visit(),
        }
        .compose(&mut OsRng)
        .expect("the record write composes");
        self.submit("v1/records", Action::WriteRecord(write)).await
    }

    /// A doctor with a write grant writes a `Condition` with `code` for
    /// `patient`, wrapping the data key for every reader the relay lists (the
    /// patient among them).
    pub async fn write_condition(&self, patient: &ActorId, code: &str) -> RecordId {
        let readers = self.try_readers(patient).await.expect("the readers");
        assert!(
            readers.iter().any(|r| &r.actor == patient),
            "the patient is one of the readers: {readers:?}"
        );
        let fhir = condition(patient, code);
        self.write_record(patient, RecordCategory::General, &fhir, &visit())
            .await
            .expect("the record is written")
    }

    /// A doctor reads `record` (a logged ledger transaction) and decrypts its FHIR payload.
    pub async fn read_condition(&self, record: RecordId) -> Value {
        let read = self
            .read_record(record)
            .await
            .expect("the data key was wrapped for this doctor and the payload opens");
        assert!(read.tx_id.is_some(), "the read is logged: {read:?}");
        serde_json::from_str(&read.fhir_json).expect("FHIR JSON")
    }

    /// An insurer publishes a one-item product covering `code` with `payout`.
    pub async fn publish(&self, code: &str, payout: u64) -> ProductId {
        let product = PublishProduct {
            product: ProductId::random(&mut OsRng),
            name: format!("Cover for {code}"),
            currency: "EUR".into(),
            premium: 1_000,
            term_days: 365,
            items: vec![CoveredItem {
                code: code.into(),
                payout,
            }],
        };
        self.publish_product(product)
            .await
            .expect("the product is published")
    }

    /// An insurer accepts purchased `policy`: issued without ciphertexts
    /// (the ledger computes each covered item's `E(M_i)`).
    pub async fn issue(&self, policy: PolicyId) {
        let state = self.policy(policy).await.expect("the policy");
        assert_eq!(state.status, PolicyStatus::Purchased, "{state:?}");
        let issued = self
            .issue_policy(policy)
            .await
            .expect("the policy is issued");
        assert_eq!(issued.result.status, PolicyStatus::Issued, "{issued:?}");
        assert!(issued.result.items.is_empty(), "{issued:?}");
    }

    /// An insurer marks approved `claim` paid with `reference`.
    pub async fn try_mark_paid(
        &self,
        claim: ClaimId,
        reference: &str,
    ) -> Result<ClaimState, ClientError> {
        Ok(self.mark_paid(claim, reference).await?.result)
    }
}

/// A visit now, billed 5 000.00 EUR (above every test product's payout).
pub fn visit() -> Treatment {
    Treatment {
        date_of_service: crate::http::now(),
        billed: 500_000,
        currency: "EUR".into(),
    }
}
