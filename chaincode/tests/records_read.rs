//! Reading records: a logged transaction, only under a read grant in force, returning
//! a key the reader can actually open; expiry and revocation take effect at once.

// Test code unwraps freely (clippy's allow-unwrap-in-tests does not reach helpers
// in integration-test crates, nor the shared `support` module compiled into each).
#![allow(dead_code, clippy::unwrap_used, clippy::too_many_arguments)]

mod support;

use carechain_core::ids::RecordId;
use carechain_core::statement::*;
use support::*;

use AccessAction::{Read, Write};
use support::records::*;

#[test]
fn a_granted_doctor_reads_a_record_and_the_read_is_logged() {
    let (mut w, patient, doctor, ..) = setup();
    let writer = w.registered(Role::Doctor);
    w.grant_to(&writer, &patient, vec![Write], Scope::All, 7);
    let record = w.write(&writer, &patient, "E11.9");
    w.advance(600);
    let result = w.read(&doctor, record).unwrap();
    assert_eq!(result["record"]["record"], record.to_string());
    assert_eq!(result["record"]["doctor"], writer.id().as_str());
    assert_eq!(open(&result, &doctor, &patient, record), fhir("E11.9"));
    // The key is the doctor's own: the patient's key would not open with the doctor's secret.
    let patients_key = w
        .query("record_key", &[&record.to_string(), patient.id().as_str()])
        .unwrap();
    assert_ne!(result["key"], patients_key);

    let payload = event_of(&mut w, "record_read", &record, [&patient, &doctor]);
    let shown = payload.to_string();
    assert!(!shown.contains(result["record"]["payload"].as_str().unwrap()));
    assert!(!shown.contains(result["record"]["code"].as_str().unwrap()));

    let log = w.query("access_log", &[patient.id().as_str()]).unwrap();
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["reader"], doctor.id().as_str());
    assert_eq!(items[0]["record"], record.to_string());
    assert_eq!(items[0]["at"], w.now());
    assert!(items[0]["tx_id"].is_string());

    // Every read is logged, in time order.
    w.advance(5);
    w.read(&doctor, record).unwrap();
    let log = w.query("access_log", &[patient.id().as_str()]).unwrap();
    let at: Vec<_> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_i64().unwrap())
        .collect();
    assert_eq!(at, vec![w.now() - 5, w.now()]);
}

#[test]
fn a_read_without_a_grant_is_forbidden() {
    let (mut w, patient, doctor, ..) = setup();
    let record = w.write(&doctor, &patient, "I10");
    let stranger = w.registered(Role::Doctor);
    let err = read_forbidden(&mut w, &stranger, record);
    assert_eq!(err.status, 403);
    // A pending request is no grant.
    w.request(&stranger, &patient, vec![Read], Scope::All);
    read_forbidden(&mut w, &stranger, record);
    let log = w.query("access_log", &[patient.id().as_str()]).unwrap();
    assert_eq!(log["items"], serde_json::json!([]));
}

#[test]
fn a_write_only_grant_does_not_allow_reads() {
    let (mut w, patient, doctor, ..) = setup();
    let record = w.write(&doctor, &patient, "I10");
    let writer = w.registered(Role::Doctor);
    w.grant_to(&writer, &patient, vec![Write], Scope::All, 7);
    let own = w.write(&writer, &patient, "J10.1");
    for record in [record, own] {
        read_forbidden(&mut w, &writer, record);
    }
}

#[test]
fn a_grant_past_its_end_time_refuses_the_read_before_any_revoke() {
    let (mut w, patient, doctor, grant) = setup();
    let record = w.write(&doctor, &patient, "I10");
    let expires_at = w.query("request", &[&grant.to_string()]).unwrap()["grant"]["expires_at"]
        .as_i64()
        .unwrap();
    w.set_now(expires_at - 1);
    w.read(&doctor, record).unwrap();
    w.set_now(expires_at);
    read_forbidden(&mut w, &doctor, record);
    // Nobody flipped a flag: the grant is still "granted", only past its end.
    let state = w.query("request", &[&grant.to_string()]).unwrap();
    assert_eq!(state["status"], "granted");
    w.advance(365 * DAY);
    read_forbidden(&mut w, &doctor, record);
}

#[test]
fn after_a_revoke_the_next_read_is_refused() {
    let (mut w, patient, doctor, grant) = setup();
    let record = w.write(&doctor, &patient, "I10");
    w.read(&doctor, record).unwrap();
    // Same second: the revoke is effective at once.
    w.submit(&patient, Action::Revoke(Revoke { request: grant }))
        .unwrap();
    read_forbidden(&mut w, &doctor, record);
    let log = w.query("access_log", &[patient.id().as_str()]).unwrap();
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
    // Only a new grant restores access.
    w.grant_to(&doctor, &patient, vec![Read], Scope::All, 1);
    let result = w.read(&doctor, record).unwrap();
    assert_eq!(open(&result, &doctor, &patient, record), fhir("I10"));
}

#[test]
fn a_read_signed_before_a_revoke_is_refused_after_it() {
    let (mut w, patient, doctor, grant) = setup();
    let record = w.write(&doctor, &patient, "I10");
    let token = w.sign(&doctor.key, Action::ReadRecord(ReadRecord { record }));
    w.submit(&patient, Action::Revoke(Revoke { request: grant }))
        .unwrap();
    w.refuses_token(&token, "forbidden");
}

#[test]
fn a_doctor_granted_only_laboratory_cannot_read_a_general_record() {
    let (mut w, patient, doctor, ..) = setup();
    let general = w.write(&doctor, &patient, "I10");
    let body = w.record_body(&patient, "R73.09", RecordCategory::Laboratory);
    let lab = body.record;
    w.submit(&doctor, Action::WriteRecord(body)).unwrap();

    let lab_doctor = w.registered(Role::Doctor);
    let scope = Scope::Categories(vec![RecordCategory::Laboratory]);
    w.grant_to(&lab_doctor, &patient, vec![Read], scope, 7);
    w.refuses_as(
        &lab_doctor,
        Action::ReadRecord(ReadRecord { record: general }),
        "forbidden",
    );
    let result = w.read(&lab_doctor, lab).unwrap();
    assert_eq!(open(&result, &lab_doctor, &patient, lab), fhir("R73.09"));
}

#[test]
fn a_doctor_granted_after_a_record_was_written_reads_it_with_the_rewrapped_key() {
    let (mut w, patient, doctor, ..) = setup();
    let record = w.write(&doctor, &patient, "C50.912");
    w.advance(DAY);
    let later = w.registered(Role::Doctor);
    // The record was not wrapped for this doctor when written.
    refused(
        w.query("record_key", &[&record.to_string(), later.id().as_str()]),
        "not_found",
    );
    w.grant_to(&later, &patient, vec![Read], Scope::All, 7);
    let result = w.read(&later, record).unwrap();
    assert_eq!(open(&result, &later, &patient, record), fhir("C50.912"));
    // And a record written after the grant is wrapped for the new reader at write time.
    let newer = w.write(&doctor, &patient, "I10");
    let result = w.read(&later, newer).unwrap();
    assert_eq!(open(&result, &later, &patient, newer), fhir("I10"));
}

#[test]
fn a_grant_from_one_patient_does_not_open_another_patients_records() {
    let (mut w, patient, doctor, ..) = setup();
    let other_patient = w.patient(1);
    let other_doctor = w.registered(Role::Doctor);
    w.consent(&other_doctor, &other_patient);
    let theirs = w.write(&other_doctor, &other_patient, "I10");
    w.write(&doctor, &patient, "I10");
    w.refuses_as(
        &doctor,
        Action::ReadRecord(ReadRecord { record: theirs }),
        "forbidden",
    );
    // Nor write for them.
    write_forbidden(
        &mut w,
        &doctor,
        &other_patient,
        "I10",
        RecordCategory::General,
    );
}

#[test]
fn a_read_of_an_unknown_record_is_refused_not_found() {
    let (mut w, _, doctor, ..) = setup();
    let record = RecordId::random(&mut w.rng);
    w.refuses_as(
        &doctor,
        Action::ReadRecord(ReadRecord { record }),
        "not_found",
    );
}

#[test]
fn a_read_by_anyone_but_a_doctor_is_refused_wrong_role() {
    let (mut w, patient, doctor, ..) = setup();
    let record = w.write(&doctor, &patient, "I10");
    let insurer = w.registered(Role::Insurer);
    // The patient reads its own records directly, not through a logged transaction.
    for reader in [&patient, &insurer] {
        w.refuses_as(
            reader,
            Action::ReadRecord(ReadRecord { record }),
            "wrong_role",
        );
    }
    w.refuses_admin(Action::ReadRecord(ReadRecord { record }), "wrong_role");
}

#[test]
fn a_suspended_doctor_is_not_a_current_reader() {
    let (mut w, patient, doctor, ..) = setup();
    let (suspended, _) = read_granted(&mut w, &patient, 7);
    w.admin_submit(Action::SuspendIdentity(SuspendIdentity {
        actor: suspended.id(),
        reason: "licence withdrawn".into(),
    }))
    .unwrap();
    let readers = reader_ids(&mut w, &patient, "general");
    assert!(
        !readers.contains(&suspended.id().as_str().to_owned()),
        "a suspended doctor is offered new data keys: {readers:?}"
    );
    // A record wrapped for the patient and the active doctor only is accepted.
    let mut body = w.record_body(&patient, "I10", RecordCategory::General);
    body.keys.retain(|k| k.reader != suspended.id());
    w.submit(&doctor, Action::WriteRecord(body)).unwrap();
}
