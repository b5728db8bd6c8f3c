//! Writing records: only a doctor with a write grant in force, with the data key
//! wrapped for exactly the patient and the current readers, and well-formed ciphertexts.

// Test code unwraps freely (clippy's allow-unwrap-in-tests does not reach helpers
// in integration-test crates, nor the shared `support` module compiled into each).
#![allow(dead_code, clippy::unwrap_used, clippy::too_many_arguments)]

mod support;

use carechain_core::ids::B64;
use carechain_core::statement::*;
use support::*;

use AccessAction::Write;
use support::records::*;

#[test]
fn a_doctor_with_a_write_grant_writes_a_record() {
    let (mut w, patient, doctor, ..) = setup();
    w.advance(120);
    let body = w.record_body(&patient, "E11.9", RecordCategory::Laboratory);
    let record = body.record;
    let result = w
        .submit(&doctor, Action::WriteRecord(body.clone()))
        .unwrap();
    assert_eq!(result["record"], record.to_string());
    assert_eq!(result["written_at"], w.now());

    let stored = w.query("record", &[&record.to_string()]).unwrap();
    assert_eq!(stored["patient"], patient.id().as_str());
    assert_eq!(stored["doctor"], doctor.id().as_str());
    assert_eq!(stored["category"], "laboratory");
    assert_eq!(stored["payload"], body.payload.encode());
    assert_eq!(stored["code"], body.code.encode());
    assert_eq!(stored["code_category"], body.code_category.encode());
    assert_eq!(stored["written_at"], w.now());
    // The signed statement is kept so anyone can re-check the doctor's signature.
    let statement =
        carechain_core::statement::Statement::peek(stored["statement"].as_str().unwrap()).unwrap();
    assert_eq!(statement.iss, doctor.id());
    assert_eq!(w.records_of(&patient), vec![record]);
    // A key for the patient and for the doctor (a current reader).
    for reader in [&patient, &doctor] {
        w.query("record_key", &[&record.to_string(), reader.id().as_str()])
            .unwrap();
    }

    let payload = event_of(&mut w, "record_written", &record, [&patient, &doctor]);
    let shown = payload.to_string();
    for secret in [
        body.payload.encode(),
        body.code.encode(),
        body.nonce.encode(),
    ] {
        assert!(!shown.contains(&secret), "{shown}");
    }
    for field in ["payload", "code", "code_category", "nonce", "keys"] {
        assert!(payload.get(field).is_none(), "{shown}");
    }
}

#[test]
fn a_write_without_any_grant_is_forbidden() {
    let (mut w, patient, ..) = setup();
    let stranger = w.registered(Role::Doctor);
    let err = write_forbidden(&mut w, &stranger, &patient, "I10", RecordCategory::General);
    assert_eq!(err.status, 403);
    // A pending or denied request is no grant either.
    w.request(&stranger, &patient, vec![Write], Scope::All);
    write_forbidden(&mut w, &stranger, &patient, "I10", RecordCategory::General);
}

#[test]
fn a_write_with_only_a_read_grant_is_forbidden() {
    let (mut w, patient, ..) = setup();
    let (reader, _) = read_granted(&mut w, &patient, 7);
    write_forbidden(&mut w, &reader, &patient, "I10", RecordCategory::General);
}

#[test]
fn a_write_outside_the_granted_categories_is_forbidden() {
    let (mut w, patient, ..) = setup();
    let lab = w.registered(Role::Doctor);
    let scope = Scope::Categories(vec![RecordCategory::Laboratory]);
    w.grant_to(&lab, &patient, vec![Write], scope, 7);
    for category in [RecordCategory::General, RecordCategory::MentalHealth] {
        write_forbidden(&mut w, &lab, &patient, "F32.9", category);
    }
    let body = w.record_body(&patient, "R73.09", RecordCategory::Laboratory);
    w.submit(&lab, Action::WriteRecord(body)).unwrap();
}

#[test]
fn a_write_after_the_grant_ends_is_forbidden() {
    let (mut w, patient, doctor, grant) = setup();
    let expires_at = w.query("request", &[&grant.to_string()]).unwrap()["grant"]["expires_at"]
        .as_i64()
        .unwrap();
    w.set_now(expires_at - 1);
    w.write(&doctor, &patient, "I10");
    w.set_now(expires_at);
    write_forbidden(&mut w, &doctor, &patient, "I10", RecordCategory::General);
}

#[test]
fn a_write_after_a_revoke_is_forbidden() {
    let (mut w, patient, doctor, grant) = setup();
    w.write(&doctor, &patient, "I10");
    w.submit(&patient, Action::Revoke(Revoke { request: grant }))
        .unwrap();
    write_forbidden(&mut w, &doctor, &patient, "I10", RecordCategory::General);
}

#[test]
fn a_write_by_anyone_but_a_doctor_is_refused_wrong_role() {
    let (mut w, patient, ..) = setup();
    let insurer = w.registered(Role::Insurer);
    let body = w.record_body(&patient, "I10", RecordCategory::General);
    w.refuses_as(&patient, Action::WriteRecord(body.clone()), "wrong_role");
    w.refuses_as(&insurer, Action::WriteRecord(body.clone()), "wrong_role");
    w.refuses_admin(Action::WriteRecord(body), "wrong_role");
}

#[test]
fn a_write_for_an_unknown_or_non_patient_is_refused_not_found() {
    let (mut w, patient, doctor, ..) = setup();
    let colleague = w.registered(Role::Doctor);
    for target in [w.stranger(Role::Patient).id(), colleague.id()] {
        let mut body = w.record_body(&patient, "I10", RecordCategory::General);
        body.patient = target;
        w.refuses_as(&doctor, Action::WriteRecord(body), "not_found");
    }
}

#[test]
fn a_write_whose_keys_do_not_match_the_current_readers_is_refused() {
    let (mut w, patient, doctor, ..) = setup();
    let (colleague, _) = read_granted(&mut w, &patient, 7);
    let stranger = w.registered(Role::Doctor);
    let template = w.record_body(&patient, "I10", RecordCategory::General);
    assert_eq!(template.keys.len(), 3, "patient, doctor, colleague");
    let without = |body: &WriteRecord, who: &Actor| {
        let mut body = body.clone();
        body.keys.retain(|k| k.reader != who.id());
        body
    };

    let mut cases = vec![
        without(&template, &patient),
        without(&template, &colleague),
        without(&template, &doctor),
    ];
    let mut extra = template.clone();
    let mut key = extra.keys[0].clone();
    key.reader = stranger.id();
    extra.keys.push(key);
    cases.push(extra);
    let mut duplicate = template.clone();
    duplicate.keys.push(duplicate.keys[0].clone());
    cases.push(duplicate);
    let mut none = template.clone();
    none.keys.clear();
    cases.push(none);
    for body in cases {
        let err = w.refuses_as(&doctor, Action::WriteRecord(body), "invalid_payload");
        assert!(err.message.contains("keys"), "{err:?}");
    }
    // A key of the wrong shape.
    let mut short = template.clone();
    short.keys[0].ciphertext = B64(vec![1; 47]);
    w.refuses_as(&doctor, Action::WriteRecord(short), "invalid_payload");
    w.submit(&doctor, Action::WriteRecord(template)).unwrap();
}

#[test]
fn a_write_need_not_wrap_for_a_reader_whose_grant_ended_or_was_revoked() {
    let (mut w, patient, doctor, ..) = setup();
    let (expired, _) = read_granted(&mut w, &patient, 1);
    let (revoked, request) = read_granted(&mut w, &patient, 7);
    w.submit(&patient, Action::Revoke(Revoke { request }))
        .unwrap();
    w.advance(DAY);
    let body = w.record_body(&patient, "I10", RecordCategory::General);
    let readers: Vec<_> = body.keys.iter().map(|k| k.reader.clone()).collect();
    assert!(!readers.contains(&expired.id()) && !readers.contains(&revoked.id()));
    // Wrapping for them anyway is refused: the key must reach no one else.
    for former in [&expired, &revoked] {
        let mut leaky = body.clone();
        let mut key = leaky.keys[0].clone();
        key.reader = former.id();
        leaky.keys.push(key);
        w.refuses_as(&doctor, Action::WriteRecord(leaky), "invalid_payload");
    }
    w.submit(&doctor, Action::WriteRecord(body)).unwrap();
}

#[test]
fn a_write_with_a_bad_nonce_or_payload_size_is_refused() {
    let (mut w, patient, doctor, ..) = setup();
    let template = w.record_body(&patient, "I10", RecordCategory::General);
    for nonce in [vec![], vec![0; 12], vec![0; 23], vec![0; 25]] {
        let mut body = template.clone();
        body.nonce = B64(nonce);
        let err = w.refuses_as(&doctor, Action::WriteRecord(body), "invalid_payload");
        assert!(err.message.contains("nonce"), "{err:?}");
    }
    for payload in [vec![], vec![0; 15], vec![0; (1 << 20) + 1]] {
        let mut body = template.clone();
        body.payload = B64(payload);
        let err = w.refuses_as(&doctor, Action::WriteRecord(body), "invalid_payload");
        assert!(err.message.contains("payload"), "{err:?}");
    }
    // The bounds are accepted (the contract cannot open the ciphertext).
    let mut body = template.clone();
    body.payload = B64(vec![0; 16]);
    w.submit(&doctor, Action::WriteRecord(body)).unwrap();
}

#[test]
fn a_write_with_a_malformed_paillier_ciphertext_is_refused() {
    let (mut w, patient, doctor, ..) = setup();
    let template = w.record_body(&patient, "I10", RecordCategory::General);
    let width = template.code.as_bytes().len();
    assert_eq!(width, 512, "2048-bit modulus");
    let n = patient.paillier_public().to_bytes();
    let mut multiple_of_n = vec![0u8; width - n.len()];
    multiple_of_n.extend_from_slice(&n);
    let garbage = [
        vec![0u8; width],     // c = 0
        vec![0xffu8; width],  // c ≥ n²
        multiple_of_n,        // gcd(c, n) = n
        vec![1u8; width - 1], // wrong width
        vec![1u8; width + 1], // wrong width
        vec![],               // nothing
    ];
    for bad in &garbage {
        let mut body = template.clone();
        body.code = B64(bad.clone());
        let err = w.refuses_as(&doctor, Action::WriteRecord(body), "invalid_payload");
        assert!(err.message.contains("code"), "{err:?}");
        let mut body = template.clone();
        body.code_category = B64(bad.clone());
        let err = w.refuses_as(&doctor, Action::WriteRecord(body), "invalid_payload");
        assert!(err.message.contains("code_category"), "{err:?}");
    }
    // A ciphertext under another key of another width is refused too.
    let other = w.stranger(Role::Patient);
    let mut body = template.clone();
    let wide = other.paillier_public().encrypt(1, &mut w.rng).to_bytes();
    if wide.len() != width {
        body.code = B64(wide);
        w.refuses_as(&doctor, Action::WriteRecord(body), "invalid_payload");
    }
}

#[test]
fn a_record_id_used_before_is_refused_already_exists() {
    let (mut w, patient, doctor, ..) = setup();
    let first = w.write(&doctor, &patient, "I10");
    let mut body = w.record_body(&patient, "E11.9", RecordCategory::General);
    body.record = first;
    w.refuses_as(&doctor, Action::WriteRecord(body), "already_exists");
    // Not even by another doctor, for another patient.
    let other_patient = w.patient(1);
    let other = w.registered(Role::Doctor);
    w.consent(&other, &other_patient);
    let mut body = w.record_body(&other_patient, "E11.9", RecordCategory::General);
    body.record = first;
    w.refuses_as(&other, Action::WriteRecord(body), "already_exists");
    let stored = w.query("record", &[&first.to_string()]).unwrap();
    assert_eq!(stored["doctor"], doctor.id().as_str());
}

// ---- reads ----
