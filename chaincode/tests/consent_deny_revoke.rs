//! Consent: the patient denies a pending request or revokes a grant, effective at once.

// Test code unwraps freely (clippy's allow-unwrap-in-tests does not reach helpers
// in integration-test crates, nor the shared `support` module compiled into each).
#![allow(dead_code, clippy::unwrap_used, clippy::too_many_arguments)]

mod support;

use carechain_core::ids::RequestId;
use carechain_core::statement::*;
use serde_json::Value;
use support::*;

use AccessAction::Read;
use support::consent::*;

/// `act` of `request` by another patient (not found) and by its doctor
/// (wrong role), and of an unknown request by the patient (not found).
fn refused_to_others(
    w: &mut World,
    [patient, doctor, intruder]: [&Actor; 3],
    act: impl Fn(RequestId) -> Action,
    request: RequestId,
) {
    w.refuses_as(intruder, act(request), "not_found");
    w.refuses_as(doctor, act(request), "wrong_role");
    let unknown = RequestId::random(&mut w.rng);
    w.refuses_as(patient, act(unknown), "not_found");
}

#[test]
fn the_patient_denies_a_pending_request() {
    let (mut w, patient, doctor) = setup();
    let request = w.request(&doctor, &patient, vec![Read], Scope::All);
    w.advance(99);
    let result = w.submit(&patient, Action::Deny(Deny { request })).unwrap();
    assert_eq!(result["status"], "denied");
    event_of(&mut w, "access_denied", &request, [&patient, &doctor]);
    let state = closed_state(&mut w, request, "denied");
    assert_eq!(state["grant"], Value::Null);
}

#[test]
fn denying_twice_or_after_a_grant_is_refused_conflict() {
    let (mut w, patient, doctor) = setup();
    let request = w.request(&doctor, &patient, vec![Read], Scope::All);
    w.submit(&patient, Action::Deny(Deny { request })).unwrap();
    w.refuses_as(&patient, Action::Deny(Deny { request }), "conflict");

    let granted = w.consent(&doctor, &patient);
    w.refuses_as(
        &patient,
        Action::Deny(Deny { request: granted }),
        "conflict",
    );
    assert_eq!(request_state(&mut w, granted)["status"], "granted");
}

#[test]
fn a_deny_by_another_patient_or_a_doctor_is_refused() {
    let (mut w, patient, doctor) = setup();
    let intruder = w.patient(1);
    let request = w.request(&doctor, &patient, vec![Read], Scope::All);
    let deny = |request| Action::Deny(Deny { request });
    refused_to_others(&mut w, [&patient, &doctor, &intruder], deny, request);
    assert_eq!(request_state(&mut w, request)["status"], "pending");
}

// ---- revoke ----

#[test]
fn the_patient_revokes_a_grant() {
    let (mut w, patient, doctor) = setup();
    let request = w.consent(&doctor, &patient);
    w.advance(3600);
    let result = w
        .submit(&patient, Action::Revoke(Revoke { request }))
        .unwrap();
    assert_eq!(result["status"], "revoked");
    event_of(&mut w, "access_revoked", &request, [&patient, &doctor]);
    let state = closed_state(&mut w, request, "revoked");
    // The terms stay for the audit trail.
    assert!(state["grant"]["expires_at"].is_i64());
}

#[test]
fn an_expired_grant_can_still_be_revoked() {
    let (mut w, patient, doctor) = setup();
    let request = w.consent(&doctor, &patient);
    w.advance(30 * DAY);
    w.submit(&patient, Action::Revoke(Revoke { request }))
        .unwrap();
}

#[test]
fn revoking_a_pending_denied_or_revoked_request_is_refused_conflict() {
    let (mut w, patient, doctor) = setup();
    let pending = w.request(&doctor, &patient, vec![Read], Scope::All);
    let denied = w.request(&doctor, &patient, vec![Read], Scope::All);
    w.submit(&patient, Action::Deny(Deny { request: denied }))
        .unwrap();
    let granted = w.consent(&doctor, &patient);
    w.submit(&patient, Action::Revoke(Revoke { request: granted }))
        .unwrap();
    for request in [pending, denied, granted] {
        w.refuses_as(&patient, Action::Revoke(Revoke { request }), "conflict");
    }
}

#[test]
fn a_revoke_by_another_patient_or_a_doctor_is_refused() {
    let (mut w, patient, doctor) = setup();
    let intruder = w.patient(1);
    let request = w.consent(&doctor, &patient);
    let revoke = |request| Action::Revoke(Revoke { request });
    refused_to_others(&mut w, [&patient, &doctor, &intruder], revoke, request);
    w.refuses_admin(revoke(request), "wrong_role");
    assert_eq!(request_state(&mut w, request)["status"], "granted");
}

#[test]
fn a_suspended_doctors_pending_request_cannot_be_granted() {
    let (mut w, patient, doctor) = setup();
    let request = w.request(&doctor, &patient, vec![Read], Scope::All);
    w.admin_submit(Action::SuspendIdentity(SuspendIdentity {
        actor: doctor.id(),
        reason: "licence withdrawn".into(),
    }))
    .unwrap();
    let body = w.grant_body(&patient, &doctor, request, vec![Read], Scope::All, 7, &[]);
    let before = w.snapshot();
    w.refuses_as(&patient, Action::Grant(body), "conflict");
    assert_eq!(before, w.snapshot());
}

fn live_grant(w: &World, patient: &Actor, doctor: &Actor, request: RequestId) -> bool {
    let key = format!("live-grant/{}/{}/{request}", patient.id(), doctor.id());
    w.state().get(&key).is_some()
}

#[test]
fn a_grant_is_in_the_live_grant_index_until_revoked() {
    let (mut w, patient, doctor) = setup();
    let pending = w.request(&doctor, &patient, vec![Read], Scope::All);
    assert!(
        !live_grant(&w, &patient, &doctor, pending),
        "a request is no grant"
    );
    let request = w.consent(&doctor, &patient);
    assert!(live_grant(&w, &patient, &doctor, request));
    assert!(reader_ids(&mut w, &patient, "general").contains(&doctor.id().to_string()));
    w.submit(&patient, Action::Revoke(Revoke { request }))
        .unwrap();
    assert!(
        !live_grant(&w, &patient, &doctor, request),
        "revoke removes it"
    );
    assert_eq!(
        reader_ids(&mut w, &patient, "general"),
        vec![patient.id().to_string()]
    );
}

#[test]
fn an_expired_grant_left_in_the_index_does_not_count() {
    let (mut w, patient, doctor) = setup();
    let request = w.consent(&doctor, &patient);
    let record = w.write(&doctor, &patient, "I10");
    w.advance(8 * DAY);
    // The entry stays (an expiry writes nothing) but is filtered as it is read.
    assert!(live_grant(&w, &patient, &doctor, request));
    assert_eq!(
        reader_ids(&mut w, &patient, "general"),
        vec![patient.id().to_string()]
    );
    read_forbidden(&mut w, &doctor, record);
}

#[test]
fn a_ledger_under_the_original_rules_checks_consent_without_the_index() {
    let mut w = World::memory_with_config(br#"{"audience":"carechain:test"}"#);
    let config = w.query("config", &[]).unwrap();
    assert!(config.get("rules").is_none(), "{config}");
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let request = w.consent(&doctor, &patient);
    assert!(!live_grant(&w, &patient, &doctor, request));
    assert!(reader_ids(&mut w, &patient, "general").contains(&doctor.id().to_string()));
    let record = w.write(&doctor, &patient, "I10");
    w.submit(&doctor, Action::ReadRecord(ReadRecord { record }))
        .unwrap();
    w.submit(&patient, Action::Revoke(Revoke { request }))
        .unwrap();
    assert_eq!(
        reader_ids(&mut w, &patient, "general"),
        vec![patient.id().to_string()]
    );
    read_forbidden(&mut w, &doctor, record);
    let indexed = w
        .state()
        .entries()
        .any(|(k, _)| k.starts_with("live-grant/"));
    assert!(!indexed, "the original rules write no index");
}
