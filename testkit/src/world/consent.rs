//! Consent and record steps: access requests, grants with re-wrapped keys,
//! record writes for the current readers, reads and opening what was read.

use carechain_core::envelope::{SealedPayload, WrappedKey};
use carechain_core::ids::{ActorId, B64, RecordId, RequestId};
use carechain_core::ledger::{Query, Reader};
use carechain_core::protocol::record::open_record;
use carechain_core::statement::{
    AccessAction, Action, Grant, ReadRecord, RecordCategory, Scope, Treatment, WriteRecord,
};
use serde_json::Value;

use super::World;
use crate::driver::{Driver, Outcome};
use crate::statements::{self, GrantTerms};
use crate::{Actor, DAY};

/// Read and write.
pub const ALL: [AccessAction; 2] = [AccessAction::Read, AccessAction::Write];

impl<D: Driver> World<D> {
    /// The doctor's signed access request for `actions` on `scope`, 30 days.
    pub fn request_token(
        &mut self,
        doctor: &Actor,
        patient: &Actor,
        actions: Vec<AccessAction>,
        scope: Scope,
    ) -> (RequestId, String) {
        let ask = statements::access_request(patient, actions, scope, 30 * DAY, &mut self.rng);
        let request = ask.request;
        (request, self.sign(&doctor.key, Action::AccessRequest(ask)))
    }

    /// The doctor requests `actions` on `scope` for 30 days; returns the request id.
    pub fn request(
        &mut self,
        doctor: &Actor,
        patient: &Actor,
        actions: Vec<AccessAction>,
        scope: Scope,
    ) -> RequestId {
        let (request, token) = self.request_token(doctor, patient, actions, scope);
        self.submit_token(&token).expect("request");
        request
    }

    /// The patient's own wrapped data key of each of `records`.
    pub fn own_keys(
        &mut self,
        patient: &Actor,
        records: &[RecordId],
    ) -> Vec<(RecordId, WrappedKey)> {
        records
            .iter()
            .map(|&record| {
                let key = self
                    .ask(&Query::RecordKey {
                        record: record.to_string(),
                        reader: patient.id().to_string(),
                    })
                    .expect("patient's key");
                (record, serde_json::from_value(key).unwrap())
            })
            .collect()
    }

    /// The patient's grant of what was asked, for `days`, with keys for `records`.
    #[allow(clippy::too_many_arguments)]
    pub fn grant_body(
        &mut self,
        patient: &Actor,
        doctor: &Actor,
        request: RequestId,
        actions: Vec<AccessAction>,
        scope: Scope,
        days: i64,
        records: &[RecordId],
    ) -> Grant {
        let own = self.own_keys(patient, records);
        let terms = GrantTerms {
            request,
            actions,
            scope,
            expires_at: self.now() + days * DAY,
        };
        statements::grant(patient, doctor, terms, own, &mut self.rng)
    }

    /// `doctor` asks for and is granted `actions` on `scope` for `days`, with
    /// re-wrapped keys for the patient's records in scope when reading is granted.
    pub fn grant_to(
        &mut self,
        doctor: &Actor,
        patient: &Actor,
        actions: Vec<AccessAction>,
        scope: Scope,
        days: i64,
    ) -> RequestId {
        let request = self.request(doctor, patient, actions.clone(), scope.clone());
        let records = if actions.contains(&AccessAction::Read) {
            self.records_in(patient, &scope)
        } else {
            Vec::new()
        };
        let body = self.grant_body(patient, doctor, request, actions, scope, days, &records);
        self.submit(patient, Action::Grant(body)).expect("grant");
        request
    }

    /// Request + full grant of read and write on everything, for 7 days.
    pub fn consent(&mut self, doctor: &Actor, patient: &Actor) -> RequestId {
        self.grant_to(doctor, patient, ALL.to_vec(), Scope::All, 7)
    }

    /// The ids of the patient's records (first page).
    pub fn records_of(&mut self, patient: &Actor) -> Vec<RecordId> {
        self.records_in(patient, &Scope::All)
    }

    /// The ids of the patient's records in `scope` (first page).
    pub fn records_in(&mut self, patient: &Actor, scope: &Scope) -> Vec<RecordId> {
        let page = self
            .query("records_for_patient", &[patient.id().as_str()])
            .expect("records");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                let category: RecordCategory =
                    serde_json::from_value(r["category"].clone()).unwrap();
                scope.covers(category)
            })
            .map(|r| r["record"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    /// Whom a new record of `category` must be wrapped for: actor and HPKE key.
    pub fn readers(&mut self, patient: &Actor, category: RecordCategory) -> Vec<(ActorId, B64)> {
        let readers = self
            .ask(&Query::Readers {
                patient: patient.id(),
                category,
            })
            .expect("readers");
        let readers: Vec<Reader> = serde_json::from_value(readers).unwrap();
        readers.into_iter().map(|r| (r.actor, r.hpke_key)).collect()
    }

    /// A record body for `patient` with diagnosis `code`, keys for the
    /// current readers, documenting a visit now billed the default amount.
    pub fn record_body(
        &mut self,
        patient: &Actor,
        code: &str,
        category: RecordCategory,
    ) -> WriteRecord {
        let visit = statements::visit(self.now());
        self.record_body_of(patient, code, category, visit)
    }

    /// As [`World::record_body`], documenting `treatment`.
    pub fn record_body_of(
        &mut self,
        patient: &Actor,
        code: &str,
        category: RecordCategory,
        treatment: Treatment,
    ) -> WriteRecord {
        let readers = self.readers(patient, category);
        let mut body =
            statements::record_write(patient, code, category, &readers, treatment, &mut self.rng);
        if self.reuse_ciphertexts {
            let parsed: carechain_core::icd10::Icd10Code = code.parse().unwrap();
            body.code = self.reuse(patient, parsed.encode(), body.code);
            body.code_category =
                self.reuse(patient, parsed.category().encode(), body.code_category);
        }
        body
    }

    /// The doctor writes a general record with `code` for the patient; returns its id.
    pub fn write(&mut self, doctor: &Actor, patient: &Actor, code: &str) -> RecordId {
        self.write_in(doctor, patient, code, RecordCategory::General)
    }

    /// The doctor writes a general record with `code` documenting
    /// `treatment` for the patient; returns its id.
    pub fn write_treated(
        &mut self,
        doctor: &Actor,
        patient: &Actor,
        code: &str,
        treatment: Treatment,
    ) -> RecordId {
        let body = self.record_body_of(patient, code, RecordCategory::General, treatment);
        let record = body.record;
        self.submit(doctor, Action::WriteRecord(body))
            .expect("write");
        record
    }

    /// The doctor writes a record of `category` with `code`; returns its id.
    pub fn write_in(
        &mut self,
        doctor: &Actor,
        patient: &Actor,
        code: &str,
        category: RecordCategory,
    ) -> RecordId {
        let body = self.record_body(patient, code, category);
        let record = body.record;
        self.submit(doctor, Action::WriteRecord(body))
            .expect("write");
        record
    }

    /// The reader's `read_record` of `record`.
    pub fn read(&mut self, reader: &Actor, record: RecordId) -> Outcome {
        self.submit(reader, Action::ReadRecord(ReadRecord { record }))
    }
}

/// Opens a `read_record` result with the reader's HPKE key: the FHIR JSON.
pub fn open(result: &Value, reader: &Actor, patient: &Actor, record: RecordId) -> Value {
    let wrapped: WrappedKey = serde_json::from_value(result["key"].clone()).unwrap();
    let sealed = SealedPayload {
        nonce: serde_json::from_value(result["record"]["nonce"].clone()).unwrap(),
        ciphertext: serde_json::from_value(result["record"]["payload"].clone()).unwrap(),
    };
    let plain = open_record(&reader.hpke, &patient.id(), &record, &sealed, &wrapped)
        .expect("the reader's key unwraps and the payload opens");
    serde_json::from_str(&plain).unwrap()
}
