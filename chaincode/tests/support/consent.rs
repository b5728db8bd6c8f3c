//! Shared set-up of the consent tests.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

use super::*;
use AccessAction::{Read, Write};
use carechain_core::ids::{B64, RecordId, RequestId};
use carechain_core::statement::*;
use serde_json::Value;

pub struct Setup {
    pub w: World,
    pub patient: Actor,
    pub doctor: Actor,
}

pub fn setup() -> Setup {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    Setup { w, patient, doctor }
}

pub fn ask(
    w: &mut World,
    patient: &Actor,
    actions: Vec<AccessAction>,
    scope: Scope,
    duration_secs: i64,
) -> AccessRequest {
    AccessRequest {
        request: RequestId::random(&mut w.rng),
        patient: patient.id(),
        actions,
        scope,
        purpose: PurposeOfUse::Treat,
        duration_secs,
    }
}

pub fn request_state(w: &mut World, request: RequestId) -> Value {
    w.query("request", &[&request.to_string()]).unwrap()
}

/// A world where another doctor with a write grant has written a general and
/// a laboratory record for the patient; returns their ids.
pub fn with_records(w: &mut World, patient: &Actor) -> (RecordId, RecordId) {
    let writer = w.registered(Role::Doctor);
    let request = w.request(&writer, patient, vec![Write], Scope::All);
    let body = w.grant_body(patient, &writer, request, vec![Write], Scope::All, 7, &[]);
    w.submit(patient, Action::Grant(body)).unwrap();
    let general = w.write(&writer, patient, "I10");
    let body = w.record_body(patient, "R73.09", RecordCategory::Laboratory);
    let lab = body.record;
    w.submit(&writer, Action::WriteRecord(body)).unwrap();
    (general, lab)
}

// ---- access requests ----
