//! The doctor's operations: access requests, writing records for the
//! patient and every current reader, reading them (logged on the ledger).

use carechain_core::OsRng;
use carechain_core::icd10::Icd10Code;
use carechain_core::ids::{ActorId, RecordId, RequestId};
use carechain_core::protocol::fhir;
use carechain_core::protocol::record::open_record;
use carechain_core::protocol::write::{RecordWrite, paillier_key};
use carechain_core::statement::{
    AccessAction, AccessRequest, Action, PurposeOfUse, ReadRecord, RecordCategory, Scope, Treatment,
};

use crate::error::ClientError;
use crate::patient::blocking;
use crate::staff::StaffClient;
use crate::wire::RecordRead;
use carechain_core::ledger::{AccessRequestState, Reader, RecordState};

/// A record a doctor read, decrypted.
#[derive(Clone, Debug)]
pub struct DoctorRead {
    /// The logging transaction.
    pub tx_id: Option<String>,
    /// The record as stored.
    pub state: RecordState,
    /// The decrypted FHIR JSON.
    pub fhir_json: String,
}

/// What a doctor asks a patient for.
#[derive(Clone, Debug)]
pub struct AccessAsk {
    /// The patient.
    pub patient: ActorId,
    /// The actions.
    pub actions: Vec<AccessAction>,
    /// The records.
    pub scope: Scope,
    /// Why.
    pub purpose: PurposeOfUse,
    /// For how long.
    pub duration_secs: i64,
}

impl StaffClient {
    /// Asks a patient for access; the request's id.
    pub async fn request_access(&self, ask: AccessAsk) -> Result<RequestId, ClientError> {
        let request = RequestId::random(&mut OsRng);
        let action = Action::AccessRequest(AccessRequest {
            request,
            patient: ask.patient,
            actions: ask.actions,
            scope: ask.scope,
            purpose: ask.purpose,
            duration_secs: ask.duration_secs,
        });
        self.submit::<serde_json::Value>("v1/requests", action)
            .await?;
        Ok(request)
    }

    /// The doctor's access requests (any status, or `status`).
    pub async fn access_requests(
        &self,
        status: Option<&str>,
    ) -> Result<Vec<AccessRequestState>, ClientError> {
        let path = match status {
            Some(s) => format!("v1/requests?status={s}"),
            None => "v1/requests".to_owned(),
        };
        self.session.list(&path).await
    }

    /// Writes a FHIR document (one `Condition`, checked first) for `patient`
    /// documenting `treatment` (date of service, billed amount), signed with
    /// the rest; the record's id.
    pub async fn write_record(
        &self,
        patient: &ActorId,
        category: RecordCategory,
        fhir_json: &str,
        treatment: &Treatment,
    ) -> Result<RecordId, ClientError> {
        let valid = fhir::validate(fhir_json, patient.as_str())
            .map_err(|e| ClientError::InvalidInput(e.to_string()))?;
        self.write_record_encrypting(patient, category, fhir_json, &valid.code, treatment)
            .await
    }

    /// Writes `fhir_json` for `patient` with `E(code)` encrypting `code`,
    /// unchecked against the payload (tests use it to play a lying doctor).
    pub async fn write_record_encrypting(
        &self,
        patient: &ActorId,
        category: RecordCategory,
        fhir_json: &str,
        code: &Icd10Code,
        treatment: &Treatment,
    ) -> Result<RecordId, ClientError> {
        let identity = self.identity(patient).await?;
        let paillier = identity.paillier.ok_or_else(|| {
            ClientError::Integrity(format!("{patient}: the ledger holds no Paillier key"))
        })?;
        let category_name = serde_json::to_value(category)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let readers: Vec<Reader> = self
            .session
            .get(&format!(
                "v1/patients/{patient}/readers?category={category_name}"
            ))
            .await?;
        let (patient, payload, code) = (patient.clone(), fhir_json.to_owned(), code.clone());
        let treatment = treatment.clone();
        let write = blocking(move || {
            let readers: Vec<_> = readers.into_iter().map(|r| (r.actor, r.hpke_key)).collect();
            let pk = paillier_key(&paillier.public_key)?;
            Ok(RecordWrite {
                record: RecordId::random(&mut OsRng),
                patient: &patient,
                category,
                payload: payload.as_bytes(),
                code: &code,
                paillier_key: &pk,
                readers: &readers,
                treatment,
            }
            .compose(&mut OsRng)?)
        })
        .await?;
        let record = write.record;
        self.submit::<serde_json::Value>("v1/records", Action::WriteRecord(write))
            .await?;
        Ok(record)
    }

    /// Reads a record under a grant (logged on the ledger) and decrypts it.
    pub async fn read_record(&self, record: RecordId) -> Result<DoctorRead, ClientError> {
        let read: RecordRead = self
            .submit(
                &format!("v1/records/{}/read", record.0),
                Action::ReadRecord(ReadRecord { record }),
            )
            .await?;
        let r = &read.record;
        let (sealed, wrapped) = read.envelope();
        let fhir_json = open_record(&self.keys.hpke, &r.patient, &r.record, &sealed, &wrapped)?;
        Ok(DoctorRead {
            tx_id: read.tx_id,
            state: read.record,
            fhir_json,
        })
    }

    /// The records of `patient` the doctor's grants cover.
    pub async fn patient_records(
        &self,
        patient: &ActorId,
    ) -> Result<Vec<RecordState>, ClientError> {
        self.session
            .list(&format!("v1/patients/{patient}/records"))
            .await
    }
}
