//! Shared set-up of the consent tests.

use super::*;
use carechain_core::ids::{RecordId, RequestId};
use carechain_core::statement::*;
use serde_json::Value;

/// A world with a registered patient and doctor.
pub fn setup() -> (World, Actor, Actor) {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    (w, patient, doctor)
}

/// A doctor's request body for `actions` on `scope` for `duration_secs`.
pub fn ask(
    w: &mut World,
    patient: &Actor,
    actions: Vec<AccessAction>,
    scope: Scope,
    duration_secs: i64,
) -> AccessRequest {
    access_request(patient, actions, scope, duration_secs, &mut w.rng)
}

pub fn request_state(w: &mut World, request: RequestId) -> Value {
    w.query("request", &[&request.to_string()]).unwrap()
}

/// The state of `request`, checked closed as `status` at the current time.
pub fn closed_state(w: &mut World, request: RequestId, status: &str) -> Value {
    let state = request_state(w, request);
    assert_eq!(state["status"], status);
    assert_eq!(state["closed_at"], w.now());
    state
}

/// A world where another doctor with a write grant has written a general and
/// a laboratory record for the patient; returns their ids.
pub fn with_records(w: &mut World, patient: &Actor) -> (RecordId, RecordId) {
    let writer = w.registered(Role::Doctor);
    w.grant_to(&writer, patient, vec![AccessAction::Write], Scope::All, 7);
    let general = w.write(&writer, patient, "I10");
    let lab = w.write_in(&writer, patient, "R73.09", RecordCategory::Laboratory);
    (general, lab)
}

// ---- access requests ----
