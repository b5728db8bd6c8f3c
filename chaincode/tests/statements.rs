//! The verification every `submit` goes through: signature, signer, audience,
//! time window, one-time nonce, arguments.

// Test code unwraps freely (clippy's allow-unwrap-in-tests does not reach helpers
// in integration-test crates, nor the shared `support` module compiled into each).
#![allow(dead_code, clippy::unwrap_used, clippy::too_many_arguments)]

mod support;

use carechain_core::ids::B64;
use carechain_core::statement::*;
use support::genesis::*;
use support::*;

#[test]
fn a_replayed_statement_is_refused() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let act = ask(&mut w, &patient);
    let token = w.sign(&doctor.key, act);
    w.submit_token(&token).unwrap();
    let err = w.refuses_token(&token, "replayed_nonce");
    assert_eq!(err.status, 403);
    // Still refused later, while the statement is otherwise valid.
    w.advance(300);
    w.refuses_token(&token, "replayed_nonce");
}

#[test]
fn the_statement_query_names_the_transaction_that_used_a_nonce() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let act = ask(&mut w, &patient);
    let first = w.statement(&doctor.key, act);
    let (iss, jti) = (first.iss.to_string(), first.jti.clone());
    refused(w.query("statement", &[&iss, &jti]), "not_found");

    w.submit_token(&sign_claims(&first, &doctor.key)).unwrap();
    let used_by = w.driver.log.last().unwrap().tx_id.clone().unwrap();
    let found = w.query("statement", &[&iss, &jti]).unwrap();
    assert_eq!(found, serde_json::json!({ "tx_id": used_by }));
    // A refused replay does not move it; another signer's same jti is unused.
    w.refuses_token(&sign_claims(&first, &doctor.key), "replayed_nonce");
    assert_eq!(w.query("statement", &[&iss, &jti]).unwrap(), found);
    let other = patient.id().to_string();
    refused(w.query("statement", &[&other, &jti]), "not_found");
    refused(w.raw_query("statement", &[&iss, "a/b"]), "bad_arguments");
}

#[test]
fn a_used_jti_is_refused_even_for_a_different_action() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let act = ask(&mut w, &patient);
    let first = w.statement(&doctor.key, act);
    w.submit_token(&sign_claims(&first, &doctor.key)).unwrap();

    let act = ask(&mut w, &patient);
    let mut second = w.statement(&doctor.key, act);
    second.jti = first.jti.clone();
    w.refuses_token(&sign_claims(&second, &doctor.key), "replayed_nonce");
}

#[test]
fn a_jti_used_by_one_signer_is_free_for_another() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let first_doctor = w.registered(Role::Doctor);
    let second_doctor = w.registered(Role::Doctor);
    let act = ask(&mut w, &patient);
    let first = w.statement(&first_doctor.key, act);
    w.submit_token(&sign_claims(&first, &first_doctor.key))
        .unwrap();
    let act = ask(&mut w, &patient);
    let mut second = w.statement(&second_doctor.key, act);
    second.jti = first.jti.clone();
    w.submit_token(&sign_claims(&second, &second_doctor.key))
        .unwrap();
}

#[test]
fn a_malformed_jti_is_refused() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    for jti in ["short", "has spaces in it, 1234567890", &"a".repeat(65)] {
        let act = ask(&mut w, &patient);
        let mut statement = w.statement(&doctor.key, act);
        statement.jti = jti.to_owned();
        w.refuses_token(&sign_claims(&statement, &doctor.key), "statement_invalid");
    }
}

// ---- the time window ----

#[test]
fn an_expired_statement_is_refused() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    // World::sign gives statements 600 s of life.
    let act = ask(&mut w, &patient);
    let late = w.sign(&doctor.key, act);
    let act = ask(&mut w, &patient);
    let just_in_time = w.sign(&doctor.key, act);
    w.advance(599);
    w.submit_token(&just_in_time).unwrap();
    w.advance(1);
    let err = w.refuses_token(&late, "statement_expired");
    assert_eq!(err.status, 403);
    w.advance(DAY);
    w.refuses_token(&late, "statement_expired");
}

#[test]
fn a_statement_issued_too_far_in_the_future_is_refused() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    // 300 s of skew is allowed…
    let act = ask(&mut w, &patient);
    let mut statement = w.statement(&doctor.key, act);
    statement.iat = w.now() + 300;
    statement.exp = statement.iat + 600;
    w.submit_token(&sign_claims(&statement, &doctor.key))
        .unwrap();
    // …one second more is not.
    let act = ask(&mut w, &patient);
    let mut statement = w.statement(&doctor.key, act);
    statement.iat = w.now() + 301;
    statement.exp = statement.iat + 600;
    w.refuses_token(&sign_claims(&statement, &doctor.key), "statement_invalid");
}

#[test]
fn a_statement_with_a_bad_lifetime_is_refused() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    for (iat, exp) in [
        (w.now(), w.now() + 3601),    // longer than the allowed hour
        (w.now(), w.now()),           // empty
        (w.now() - 10, w.now() - 20), // negative
    ] {
        let act = ask(&mut w, &patient);
        let mut statement = w.statement(&doctor.key, act);
        statement.iat = iat;
        statement.exp = exp;
        w.refuses_token(&sign_claims(&statement, &doctor.key), "statement_invalid");
    }
    // Exactly an hour is fine.
    let act = ask(&mut w, &patient);
    let mut statement = w.statement(&doctor.key, act);
    statement.exp = statement.iat + 3600;
    w.submit_token(&sign_claims(&statement, &doctor.key))
        .unwrap();
}

// ---- audience and signature ----

#[test]
fn a_statement_for_another_ledger_is_refused() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let act = ask(&mut w, &patient);
    let mut statement = w.statement(&doctor.key, act);
    statement.aud = "carechain:production".into();
    let err = w.refuses_token(&sign_claims(&statement, &doctor.key), "wrong_audience");
    assert_eq!(err.status, 403);
}

#[test]
fn a_statement_claiming_another_signer_is_refused_signature_invalid() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let forger = w.stranger(Role::Doctor);
    // The forger signs its own statement, then swaps in the doctor's iss.
    let act = ask(&mut w, &patient);
    let mut statement = w.statement(&forger.key, act);
    let (header, _, signature) = parts(&sign_claims(&statement, &forger.key));
    statement.iss = doctor.id();
    let body = B64(serde_json::to_vec(&statement).unwrap()).encode();
    let forged = format!("{header}.{body}.{signature}");
    w.refuses_token(&forged, "signature_invalid");

    // A registered identity cannot speak for another registered one either.
    let other = w.registered(Role::Doctor);
    let act = ask(&mut w, &patient);
    let mut statement = w.statement(&other.key, act);
    let (header, _, signature) = parts(&sign_claims(&statement, &other.key));
    statement.iss = doctor.id();
    let body = B64(serde_json::to_vec(&statement).unwrap()).encode();
    w.refuses_token(&format!("{header}.{body}.{signature}"), "signature_invalid");
}

#[test]
fn a_tampered_statement_is_refused_signature_invalid() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let act = ask(&mut w, &patient);
    let mut statement = w.statement(&doctor.key, act);
    let (header, _, signature) = parts(&sign_claims(&statement, &doctor.key));
    // Same signer, same nonce, a longer duration than signed.
    if let Action::AccessRequest(body) = &mut statement.act {
        body.duration_secs = 300 * DAY;
    }
    let body = B64(serde_json::to_vec(&statement).unwrap()).encode();
    w.refuses_token(&format!("{header}.{body}.{signature}"), "signature_invalid");
    // A corrupted signature.
    let token = sign_claims(&statement, &doctor.key);
    let (header, body, signature) = parts(&token);
    let mut sig = B64::decode(&signature).unwrap();
    sig.0[10] ^= 1;
    w.refuses_token(
        &format!("{header}.{body}.{}", sig.encode()),
        "signature_invalid",
    );
    // The untampered statement is still accepted.
    w.submit_token(&token).unwrap();
}

#[test]
fn a_statement_with_another_algorithm_or_type_is_refused() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let act = ask(&mut w, &patient);
    let token = w.sign(&doctor.key, act);
    let (_, body, signature) = parts(&token);
    for header in [
        r#"{"alg":"none","typ":"carechain-statement+jwt"}"#,
        r#"{"alg":"HS256","typ":"carechain-statement+jwt"}"#,
        r#"{"alg":"ES256","typ":"JWT"}"#,
        r#"{"alg":"ES256"}"#,
    ] {
        let header = B64(header.as_bytes().to_vec()).encode();
        w.refuses_token(&format!("{header}.{body}.{signature}"), "statement_invalid");
        w.refuses_token(&format!("{header}.{body}."), "statement_invalid");
    }
}

// ---- the signer ----

#[test]
fn a_statement_from_an_unknown_signer_is_refused() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let stranger = w.stranger(Role::Doctor);
    let act = ask(&mut w, &patient);
    let err = w.refuses_as(&stranger, act, "unknown_signer");
    assert!(err.message.contains(stranger.id().as_str()), "{err:?}");
    // Only patients register themselves: a doctor cannot.
    w.refuses_as(
        &stranger,
        Action::RegisterIdentity(stranger.registration()),
        "unknown_signer",
    );
    let admin = w.stranger(Role::Admin);
    w.refuses_as(
        &admin,
        Action::RegisterIdentity(admin.registration()),
        "unknown_signer",
    );
}

#[test]
fn a_suspended_doctor_can_no_longer_request_write_or_read() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    w.consent(&doctor, &patient);
    let record = w.write(&doctor, &patient, "I10");
    // Signed before the suspension, submitted after: refused too.
    let early_read = w.sign(&doctor.key, Action::ReadRecord(ReadRecord { record }));
    w.admin_submit(Action::SuspendIdentity(SuspendIdentity {
        actor: doctor.id(),
        reason: "licence withdrawn".into(),
    }))
    .unwrap();

    let act = ask(&mut w, &patient);
    let err = w.refuses_as(&doctor, act, "signer_suspended");
    assert_eq!(err.status, 403);
    let body = w.record_body(&patient, "E11.9", RecordCategory::General);
    w.refuses_as(&doctor, Action::WriteRecord(body), "signer_suspended");
    w.refuses_as(
        &doctor,
        Action::ReadRecord(ReadRecord { record }),
        "signer_suspended",
    );
    w.refuses_token(&early_read, "signer_suspended");
}

// ---- the arguments ----

#[test]
fn a_garbage_token_is_refused_statement_invalid() {
    let mut w = World::memory();
    for token in [
        "",
        "garbage",
        "a.b.c",
        "a.b",
        "a.b.c.d",
        "eyJhbGciOiJFUzI1NiJ9.!!!.sig",
        "e30.e30.e30",
    ] {
        let err = w.refuses_token(token, "statement_invalid");
        assert_eq!(err.status, 403);
    }
}

#[test]
fn a_statement_with_an_unknown_action_is_refused() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let act = ask(&mut w, &patient);
    let statement = w.statement(&doctor.key, act);
    let mut json = serde_json::to_value(&statement).unwrap();
    json["act"]["type"] = "delete_everything".into();
    let token = sign_claims(&statement, &doctor.key);
    let (header, _, signature) = parts(&token);
    let body = B64(serde_json::to_vec(&json).unwrap()).encode();
    w.refuses_token(&format!("{header}.{body}.{signature}"), "statement_invalid");
}

#[test]
fn submit_with_a_non_utf8_argument_is_refused() {
    let mut w = World::memory();
    let before = w.snapshot();
    let err = refused(
        w.invoke("submit", &[vec![0xff, 0xfe, 0x2e]]),
        "bad_arguments",
    );
    assert_eq!(err.status, 400);
    assert!(w.snapshot() == before);
}

#[test]
fn submit_with_the_wrong_number_of_arguments_is_refused() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let act = ask(&mut w, &patient);
    let token = w.sign(&doctor.key, act);
    let before = w.snapshot();
    refused(w.invoke("submit", &[]), "bad_arguments");
    refused(
        w.invoke(
            "submit",
            &[token.clone().into_bytes(), token.clone().into_bytes()],
        ),
        "bad_arguments",
    );
    assert!(w.snapshot() == before);
    // The statement was not consumed by the refusals.
    w.submit_token(&token).unwrap();
}
