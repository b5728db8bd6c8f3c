//! Strict JWS from storage rules 3: a high-S signature (the twin of a valid
//! one) and any `crit` header are refused, with the state unchanged; a
//! ledger started under older rules keeps accepting both, so its chain
//! replays as written.
#![allow(dead_code, clippy::unwrap_used)]

mod support;

use carechain_core::statement::{Role, STATEMENT_TYPE};
use carechain_testkit::statements::{high_s_twin, sign_with_header};
use support::genesis::*;
use support::*;

/// A registered patient and doctor on a ledger under storage `rules`.
fn world(rules: u32) -> (World, Actor, Actor) {
    let mut w = World::memory_with_config(&carechain_testkit::config(Some(rules)));
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    (w, patient, doctor)
}

#[test]
fn a_high_s_statement_is_refused_under_rules_3_and_its_low_s_original_still_counts() {
    let (mut w, patient, doctor) = world(3);
    let act = ask(&mut w, &patient);
    let token = w.sign(&doctor.key, act);
    let high = high_s_twin(&token);
    assert_ne!(high, token);
    let err = w.refuses_token(&high, "signature_invalid");
    assert!(err.message.contains("high-S"), "{}", err.message);
    // The refusal consumed nothing: the original (same jti) is accepted once.
    w.submit_token(&token).unwrap();
    w.refuses_token(&high, "signature_invalid");
    w.refuses_token(&token, "replayed_nonce");
}

#[test]
fn a_high_s_statement_is_accepted_under_rules_2_as_when_it_was_written() {
    let (mut w, patient, doctor) = world(2);
    let act = ask(&mut w, &patient);
    let token = w.sign(&doctor.key, act);
    let result = w.submit_token(&high_s_twin(&token)).unwrap();
    assert_eq!(result["status"], "pending");
    // It used the statement's nonce: the low-S original is now a replay.
    w.refuses_token(&token, "replayed_nonce");
}

#[test]
fn a_crit_header_is_refused_under_rules_3_only() {
    for (rules, accepted) in [(3, false), (2, true)] {
        let (mut w, patient, doctor) = world(rules);
        let act = ask(&mut w, &patient);
        let statement = w.statement(&doctor.key, act);
        let header = serde_json::json!({
            "alg": "ES256", "typ": STATEMENT_TYPE, "crit": ["exp"], "exp": 1
        });
        let token = sign_with_header(&statement, &header, &doctor.key);
        if accepted {
            w.submit_token(&token).unwrap();
        } else {
            let err = w.refuses_token(&token, "statement_invalid");
            assert!(err.message.contains("crit"), "{}", err.message);
        }
    }
}

#[test]
fn a_high_s_admin_registration_cannot_start_a_rules_3_ledger() {
    let mut w = World::memory();
    w.reset_state();
    let token = w.admin_registration();
    let config = carechain_testkit::config(Some(3));
    let high = high_s_twin(&token).into_bytes();
    w.init_refused(&[config.clone(), high.clone()], "signature_invalid");
    // Under rules 2 the same genesis is accepted, as it always was.
    let older = carechain_testkit::config(Some(2));
    w.invoke("init", &[older, high]).unwrap();
}
