//! Shared set-up of the record tests.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

use super::*;
use AccessAction::{Read, Write};
use carechain_core::envelope::{self, SealedPayload, WrappedKey};
use carechain_core::ids::{B64, RecordId, RequestId};
use carechain_core::statement::*;
use serde_json::Value;

pub struct Setup {
    pub w: World,
    pub patient: Actor,
    pub doctor: Actor,
    /// The doctor's read + write grant on everything, for 7 days.
    pub grant: RequestId,
}

pub fn setup() -> Setup {
    let mut w = World::new();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let grant = w.consent(&doctor, &patient);
    Setup {
        w,
        patient,
        doctor,
        grant,
    }
}

/// `doctor` asks for and is granted `actions` on `scope` for `days`, with
/// re-wrapped keys for the records in scope.
pub fn grant_to(
    w: &mut World,
    doctor: &Actor,
    patient: &Actor,
    actions: Vec<AccessAction>,
    scope: Scope,
    days: i64,
) -> RequestId {
    let request = w.request(doctor, patient, actions.clone(), scope.clone());
    let records: Vec<RecordId> = if actions.contains(&Read) {
        let page = w
            .query("records_for_patient", &[patient.id().as_str()])
            .unwrap();
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
    } else {
        Vec::new()
    };
    let body = w.grant_body(patient, doctor, request, actions, scope, days, &records);
    w.submit(patient, Action::Grant(body)).expect("grant");
    request
}

pub fn read(
    w: &mut World,
    doctor: &Actor,
    record: RecordId,
) -> Result<Value, carechain_chaincode::ChaincodeError> {
    w.submit(doctor, Action::ReadRecord(ReadRecord { record }))
}

/// Opens a `read_record` result with the reader's HPKE key: the FHIR JSON.
pub fn open(result: &Value, reader: &Actor, patient: &Actor, record: RecordId) -> Value {
    let wrapped: WrappedKey = serde_json::from_value(result["key"].clone()).unwrap();
    let key = wrapped
        .unwrap(&reader.hpke, &patient.id(), &record)
        .expect("the reader's key unwraps");
    let sealed = SealedPayload {
        nonce: B64::decode(result["record"]["nonce"].as_str().unwrap()).unwrap(),
        ciphertext: B64::decode(result["record"]["payload"].as_str().unwrap()).unwrap(),
    };
    let plain = envelope::open(&sealed, &key, &patient.id(), &record).expect("payload opens");
    serde_json::from_slice(&plain).unwrap()
}

pub fn reader_ids(w: &mut World, patient: &Actor, category: &str) -> Vec<String> {
    let readers = w
        .query("readers", &[patient.id().as_str(), category])
        .unwrap();
    readers
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["actor"].as_str().unwrap().to_owned())
        .collect()
}

pub fn fhir(code: &str) -> Value {
    serde_json::json!({"resourceType": "Condition", "code": code})
}

// ---- writes ----
