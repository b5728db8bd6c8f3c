//! Consent: access requests and grants (no wider than asked, with an end time and the
//! re-wrapped keys of the records in scope).

// Test code unwraps freely (clippy's allow-unwrap-in-tests does not reach helpers
// in integration-test crates, nor the shared `support` module compiled into each).
#![allow(dead_code, clippy::unwrap_used, clippy::too_many_arguments)]

mod support;

use carechain_core::ids::{B64, RecordId, RequestId};
use carechain_core::statement::*;
use serde_json::Value;
use support::*;

use AccessAction::{Read, Write};
use support::consent::*;

#[test]
fn a_doctor_requests_access() {
    let (mut w, patient, doctor) = setup();
    w.advance(7);
    let body = ask(
        &mut w,
        &patient,
        vec![Read, Write],
        Scope::Categories(vec![RecordCategory::General, RecordCategory::Laboratory]),
        30 * DAY,
    );
    let result = w
        .submit(&doctor, Action::AccessRequest(body.clone()))
        .unwrap();
    assert_eq!(result["request"], body.request.to_string());
    assert_eq!(result["status"], "pending");

    let payload = event_of(
        &mut w,
        "access_requested",
        &body.request,
        [&patient, &doctor],
    );
    assert!(payload.get("expires_at").is_none(), "{payload}");

    let state = request_state(&mut w, body.request);
    assert_eq!(state["status"], "pending");
    assert_eq!(state["doctor"], doctor.id().as_str());
    assert_eq!(state["patient"], patient.id().as_str());
    assert_eq!(state["actions"], serde_json::json!(["read", "write"]));
    assert_eq!(
        state["scope"],
        serde_json::json!({"kind": "categories", "categories": ["general", "laboratory"]})
    );
    assert_eq!(state["purpose"], "TREAT");
    assert_eq!(state["duration_secs"], 30 * DAY);
    assert_eq!(state["requested_at"], T0 + 7);
    assert_eq!(state["grant"], Value::Null);

    // Listed for both parties.
    let mine = w
        .query("requests_for_patient", &[patient.id().as_str()])
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let theirs = w
        .query("requests_by_doctor", &[doctor.id().as_str()])
        .unwrap();
    assert_eq!(theirs["items"][0]["request"], body.request.to_string());
}

#[test]
fn only_a_doctor_requests_access() {
    let (mut w, patient, ..) = setup();
    let other_patient = w.patient(1);
    let insurer = w.registered(Role::Insurer);
    let body = ask(&mut w, &patient, vec![Read], Scope::All, DAY);
    for signer in [&other_patient, &insurer, &patient] {
        w.refuses_as(signer, Action::AccessRequest(body.clone()), "wrong_role");
    }
    w.refuses_admin(Action::AccessRequest(body), "wrong_role");
}

#[test]
fn a_request_to_an_unknown_or_non_patient_is_refused_not_found() {
    let (mut w, _, doctor) = setup();
    let stranger = w.stranger(Role::Patient);
    let colleague = w.registered(Role::Doctor);
    let insurer = w.registered(Role::Insurer);
    for target in [&stranger, &colleague, &insurer, &doctor] {
        let body = ask(&mut w, target, vec![Read], Scope::All, DAY);
        w.refuses_as(&doctor, Action::AccessRequest(body), "not_found");
    }
}

#[test]
fn a_request_with_bad_actions_scope_or_duration_is_refused() {
    let (mut w, patient, doctor) = setup();
    let cases: Vec<(Vec<AccessAction>, Scope, i64, &str)> = vec![
        (vec![], Scope::All, DAY, "actions"),
        (vec![Read, Read], Scope::All, DAY, "actions"),
        (vec![Write, Read, Write], Scope::All, DAY, "actions"),
        (vec![Read], Scope::Categories(vec![]), DAY, "scope"),
        (
            vec![Read],
            Scope::Categories(vec![RecordCategory::Imaging, RecordCategory::Imaging]),
            DAY,
            "scope",
        ),
        (vec![Read], Scope::All, 0, "duration_secs"),
        (vec![Read], Scope::All, -DAY, "duration_secs"),
        (vec![Read], Scope::All, 366 * DAY + 1, "duration_secs"),
        (vec![Read], Scope::All, i64::MAX, "duration_secs"),
    ];
    for (actions, scope, duration, field) in cases {
        let body = ask(&mut w, &patient, actions, scope, duration);
        let err = w.refuses_as(&doctor, Action::AccessRequest(body), "invalid_payload");
        assert!(err.message.contains(field), "{field}: {err:?}");
    }
    // The bounds themselves are accepted.
    for duration in [1, 366 * DAY] {
        let body = ask(&mut w, &patient, vec![Read], Scope::All, duration);
        w.submit(&doctor, Action::AccessRequest(body)).unwrap();
    }
}

#[test]
fn a_request_id_used_before_is_refused_already_exists() {
    let (mut w, patient, doctor) = setup();
    let body = ask(&mut w, &patient, vec![Read], Scope::All, DAY);
    w.submit(&doctor, Action::AccessRequest(body.clone()))
        .unwrap();
    w.refuses_as(
        &doctor,
        Action::AccessRequest(body.clone()),
        "already_exists",
    );
    // Another doctor cannot take over the id, for another patient either.
    let other = w.registered(Role::Doctor);
    let other_patient = w.patient(1);
    let mut hijack = body.clone();
    hijack.patient = other_patient.id();
    w.refuses_as(&other, Action::AccessRequest(hijack), "already_exists");
    assert_eq!(
        request_state(&mut w, body.request)["doctor"],
        doctor.id().as_str()
    );
}

// ---- grants ----

/// The patient's 7-day read grant of all of `request`, carrying the keys of `records`.
fn read_all_grant(
    w: &mut World,
    [patient, doctor]: [&Actor; 2],
    request: RequestId,
    records: &[RecordId],
) -> Grant {
    w.grant_body(patient, doctor, request, vec![Read], Scope::All, 7, records)
}

#[test]
fn the_patient_grants_a_pending_request() {
    let (mut w, patient, doctor) = setup();
    let (general, lab) = with_records(&mut w, &patient);
    let request = w.request(&doctor, &patient, vec![Read, Write], Scope::All);
    w.advance(60);
    let body = read_all_grant(&mut w, [&patient, &doctor], request, &[general, lab]);
    let expires_at = body.expires_at;
    let result = w.submit(&patient, Action::Grant(body)).unwrap();
    assert_eq!(result["request"], request.to_string());
    assert_eq!(result["status"], "granted");

    let payload = event_of(&mut w, "access_granted", &request, [&patient, &doctor]);
    assert_eq!(payload["expires_at"], expires_at);
    assert!(payload.get("keys").is_none(), "{payload}");

    let state = request_state(&mut w, request);
    assert_eq!(state["status"], "granted");
    assert_eq!(state["grant"]["actions"], serde_json::json!(["read"]));
    assert_eq!(state["grant"]["expires_at"], expires_at);
    assert_eq!(state["grant"]["granted_at"], w.now());
    // The re-wrapped keys are stored for the doctor.
    for record in [general, lab] {
        w.query("record_key", &[&record.to_string(), doctor.id().as_str()])
            .unwrap();
    }
}

#[test]
fn a_write_only_grant_carries_no_keys() {
    let (mut w, patient, doctor) = setup();
    let (general, _) = with_records(&mut w, &patient);
    let request = w.request(&doctor, &patient, vec![Read, Write], Scope::All);
    let body = w.grant_body(&patient, &doctor, request, vec![Write], Scope::All, 7, &[]);
    w.submit(&patient, Action::Grant(body)).unwrap();

    let request = w.request(&doctor, &patient, vec![Write], Scope::All);
    let body = w.grant_body(
        &patient,
        &doctor,
        request,
        vec![Write],
        Scope::All,
        7,
        &[general],
    );
    w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
}

#[test]
fn a_grant_by_another_patient_is_refused_not_found() {
    let (mut w, patient, doctor) = setup();
    let intruder = w.patient(1);
    let request = w.request(&doctor, &patient, vec![Read], Scope::All);
    let body = read_all_grant(&mut w, [&patient, &doctor], request, &[]);
    w.refuses_as(&intruder, Action::Grant(body), "not_found");
    assert_eq!(request_state(&mut w, request)["status"], "pending");
}

#[test]
fn a_grant_of_an_unknown_request_is_refused_not_found() {
    let (mut w, patient, doctor) = setup();
    let request = RequestId::random(&mut w.rng);
    let body = read_all_grant(&mut w, [&patient, &doctor], request, &[]);
    w.refuses_as(&patient, Action::Grant(body), "not_found");
}

#[test]
fn a_grant_by_a_doctor_is_refused_wrong_role() {
    let (mut w, patient, doctor) = setup();
    let request = w.request(&doctor, &patient, vec![Read], Scope::All);
    let body = read_all_grant(&mut w, [&patient, &doctor], request, &[]);
    w.refuses_as(&doctor, Action::Grant(body.clone()), "wrong_role");
    w.refuses_admin(Action::Grant(body), "wrong_role");
}

#[test]
fn a_grant_wider_than_the_request_is_refused() {
    let (mut w, patient, doctor) = setup();
    let lab = || Scope::Categories(vec![RecordCategory::Laboratory]);
    let request = w.request(&doctor, &patient, vec![Read], lab());
    // More actions than asked.
    let body = w.grant_body(&patient, &doctor, request, vec![Read, Write], lab(), 7, &[]);
    let err = w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
    assert!(err.message.contains("actions"), "{err:?}");
    let body = w.grant_body(&patient, &doctor, request, vec![Write], lab(), 7, &[]);
    w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
    // A wider scope than asked.
    for scope in [
        Scope::All,
        Scope::Categories(vec![RecordCategory::Laboratory, RecordCategory::Imaging]),
        Scope::Categories(vec![RecordCategory::General]),
    ] {
        let body = w.grant_body(&patient, &doctor, request, vec![Read], scope, 7, &[]);
        let err = w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
        assert!(err.message.contains("scope"), "{err:?}");
    }
    // Malformed lists are refused as in a request.
    let body = w.grant_body(&patient, &doctor, request, vec![], lab(), 7, &[]);
    w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
    let body = w.grant_body(&patient, &doctor, request, vec![Read, Read], lab(), 7, &[]);
    w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
    let body = w.grant_body(
        &patient,
        &doctor,
        request,
        vec![Read],
        Scope::Categories(vec![]),
        7,
        &[],
    );
    w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
    assert_eq!(request_state(&mut w, request)["status"], "pending");
    // Exactly what was asked is fine.
    let body = w.grant_body(&patient, &doctor, request, vec![Read], lab(), 7, &[]);
    w.submit(&patient, Action::Grant(body)).unwrap();
}

#[test]
fn a_narrower_grant_than_requested_is_accepted() {
    let (mut w, patient, doctor) = setup();
    let request = w.request(&doctor, &patient, vec![Read, Write], Scope::All);
    let scope = Scope::Categories(vec![RecordCategory::Imaging]);
    let body = w.grant_body(
        &patient,
        &doctor,
        request,
        vec![Write],
        scope.clone(),
        1,
        &[],
    );
    w.submit(&patient, Action::Grant(body)).unwrap();
    let state = request_state(&mut w, request);
    assert_eq!(
        state["grant"]["scope"],
        serde_json::to_value(&scope).unwrap()
    );
    assert_eq!(state["grant"]["actions"], serde_json::json!(["write"]));
}

#[test]
fn a_grant_ending_now_or_in_the_past_or_beyond_the_requested_duration_is_refused() {
    let (mut w, patient, doctor) = setup();
    // World::request asks for 30 days.
    let request = w.request(&doctor, &patient, vec![Read], Scope::All);
    w.advance(3600);
    let now = w.now();
    for expires_at in [now - 1, now, now + 30 * DAY + 1, i64::MAX] {
        let mut body = w.grant_body(&patient, &doctor, request, vec![Read], Scope::All, 1, &[]);
        body.expires_at = expires_at;
        let err = w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
        assert!(err.message.contains("expires_at"), "{err:?}");
    }
    let mut body = w.grant_body(&patient, &doctor, request, vec![Read], Scope::All, 1, &[]);
    body.expires_at = now + 30 * DAY;
    w.submit(&patient, Action::Grant(body)).unwrap();
}

#[test]
fn a_grant_must_carry_exactly_the_keys_of_the_records_in_scope() {
    let (mut w, patient, doctor) = setup();
    let (general, lab) = with_records(&mut w, &patient);
    let lab_only = || Scope::Categories(vec![RecordCategory::Laboratory]);
    let request = w.request(&doctor, &patient, vec![Read], Scope::All);

    // Missing the key of a record in scope.
    let body = read_all_grant(&mut w, [&patient, &doctor], request, &[general]);
    let err = w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
    assert!(err.message.contains("keys"), "{err:?}");
    let body = read_all_grant(&mut w, [&patient, &doctor], request, &[]);
    w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
    // A key for a record out of scope.
    let lab_grant = |w: &mut World, records: &[RecordId]| {
        w.grant_body(
            &patient,
            &doctor,
            request,
            vec![Read],
            lab_only(),
            7,
            records,
        )
    };
    let body = lab_grant(&mut w, &[lab, general]);
    w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
    // A key for a record that does not exist.
    let mut body = lab_grant(&mut w, &[lab]);
    let mut ghost = body.keys[0].clone();
    ghost.record = RecordId::random(&mut w.rng);
    body.keys.push(ghost);
    w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
    // The same record's key twice.
    let mut body = lab_grant(&mut w, &[lab]);
    body.keys.push(body.keys[0].clone());
    let err = w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
    assert!(err.message.contains("keys"), "{err:?}");
    // A key of the wrong shape.
    for (enc, ciphertext) in [
        (vec![4u8; 64], vec![0u8; 48]),
        (vec![4u8; 65], vec![0u8; 47]),
    ] {
        let mut body = lab_grant(&mut w, &[lab]);
        body.keys[0].enc = B64(enc);
        body.keys[0].ciphertext = B64(ciphertext);
        w.refuses_as(&patient, Action::Grant(body), "invalid_payload");
    }
    assert_eq!(request_state(&mut w, request)["status"], "pending");
    refused(
        w.query("record_key", &[&lab.to_string(), doctor.id().as_str()]),
        "not_found",
    );
    // Exactly the keys in scope.
    let body = lab_grant(&mut w, &[lab]);
    w.submit(&patient, Action::Grant(body)).unwrap();
    refused(
        w.query("record_key", &[&general.to_string(), doctor.id().as_str()]),
        "not_found",
    );
}

#[test]
fn granting_twice_or_after_a_deny_is_refused_conflict() {
    let (mut w, patient, doctor) = setup();
    let request = w.request(&doctor, &patient, vec![Read], Scope::All);
    let body = read_all_grant(&mut w, [&patient, &doctor], request, &[]);
    w.submit(&patient, Action::Grant(body)).unwrap();
    let body = w.grant_body(&patient, &doctor, request, vec![Read], Scope::All, 1, &[]);
    w.refuses_as(&patient, Action::Grant(body), "conflict");

    let denied = w.request(&doctor, &patient, vec![Read], Scope::All);
    w.submit(&patient, Action::Deny(Deny { request: denied }))
        .unwrap();
    let body = w.grant_body(&patient, &doctor, denied, vec![Read], Scope::All, 7, &[]);
    w.refuses_as(&patient, Action::Grant(body), "conflict");

    // A revoked grant cannot be granted again either: the doctor asks anew.
    w.submit(&patient, Action::Revoke(Revoke { request }))
        .unwrap();
    let body = read_all_grant(&mut w, [&patient, &doctor], request, &[]);
    w.refuses_as(&patient, Action::Grant(body), "conflict");
}

// ---- deny ----
