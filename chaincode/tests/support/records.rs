//! Shared set-up of the record tests.

use super::*;
use carechain_core::ids::RequestId;
use carechain_core::statement::*;

/// A world with a patient and a doctor holding read + write on everything
/// for 7 days (the grant's request id last).
pub fn setup() -> (World, Actor, Actor, RequestId) {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let grant = w.consent(&doctor, &patient);
    (w, patient, doctor, grant)
}

/// Checks `writer` is refused writing a `code` record of `category` for
/// `patient` as forbidden.
#[track_caller]
pub fn write_forbidden(
    w: &mut World,
    writer: &Actor,
    patient: &Actor,
    code: &str,
    category: RecordCategory,
) -> carechain_testkit::ChaincodeError {
    let body = w.record_body(patient, code, category);
    w.refuses_as(writer, Action::WriteRecord(body), "forbidden")
}

/// A newly registered doctor holding a read grant on all of `patient`'s
/// records for `days`, with the grant's request id.
pub fn read_granted(w: &mut World, patient: &Actor, days: i64) -> (Actor, RequestId) {
    let doctor = w.registered(Role::Doctor);
    let request = w.grant_to(&doctor, patient, vec![AccessAction::Read], Scope::All, days);
    (doctor, request)
}
