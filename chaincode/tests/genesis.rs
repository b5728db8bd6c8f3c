//! Genesis: `init` fixes the audience and registers the first admin, once.

// Test code unwraps freely (clippy's allow-unwrap-in-tests does not reach helpers
// in integration-test crates, nor the shared `support` module compiled into each).
#![allow(dead_code, clippy::unwrap_used, clippy::too_many_arguments)]

mod support;

use carechain_core::statement::*;
use support::genesis::*;
use support::*;

#[test]
fn init_on_an_empty_ledger_fixes_the_config_and_registers_the_first_admin() {
    let mut w = World::memory();
    w.reset_state();
    let token = w.admin_registration();
    let result = w
        .invoke("init", &[CONFIG.to_vec(), token.into_bytes()])
        .unwrap();
    let admin = w.admin.id();
    assert_eq!(result["actor"], admin.as_str());
    assert_eq!(result["role"], "admin");

    let config = w.query("config", &[]).unwrap();
    assert_eq!(config["audience"], AUD);
    assert_eq!(config["max_skew_secs"], 300);
    assert_eq!(config["max_lifetime_secs"], 3600);

    let identity = w.query("identity", &[admin.as_str()]).unwrap();
    assert_eq!(identity["role"], "admin");
    assert_eq!(identity["active"], true);
    assert_eq!(identity["registered_by"], admin.as_str());
    assert_eq!(identity["registered_at"], T0);

    let (name, payload) = w.event();
    assert_eq!(name, "identity_registered");
    assert_eq!(payload["actor"], admin.as_str());
    assert_eq!(payload["by"], admin.as_str());
    assert_eq!(payload["role"], "admin");
}

#[test]
fn a_second_init_is_refused_already_initialised() {
    let mut w = World::memory();
    let token = w.admin_registration();
    w.init_refused(
        &[CONFIG.to_vec(), token.into_bytes()],
        "already_initialised",
    );
    // Even with another audience and another admin.
    let other = w.stranger(Role::Admin);
    let token = Statement::new(
        other.id(),
        "elsewhere",
        Action::RegisterIdentity(other.registration()),
        w.now(),
        600,
        &mut w.rng,
    )
    .sign(&other.key)
    .unwrap();
    w.init_refused(
        &[br#"{"audience":"elsewhere"}"#.to_vec(), token.into_bytes()],
        "already_initialised",
    );
}

#[test]
fn submit_and_config_before_init_are_refused_not_initialised() {
    let mut w = World::memory();
    w.reset_state();
    let doctor = w.stranger(Role::Doctor);
    let patient = w.stranger(Role::Patient);
    let act = ask(&mut w, &patient);
    w.refuses_as(&doctor, act, "not_initialised");
    // Not even a patient's self-registration gets in before genesis.
    w.refuses_as(
        &patient,
        Action::RegisterIdentity(patient.registration()),
        "not_initialised",
    );
    refused(w.query("config", &[]), "not_initialised");
    assert_eq!(w.state().entries().count(), 0);
}

#[test]
fn init_with_a_statement_that_is_not_an_admin_registration_is_refused() {
    let mut w = World::memory();
    w.reset_state();
    // A patient's self-registration.
    let patient = w.stranger(Role::Patient);
    let token = w.sign(
        &patient.key,
        Action::RegisterIdentity(patient.registration()),
    );
    w.init_refused(&[CONFIG.to_vec(), token.into_bytes()], "invalid_payload");
    // A doctor registering itself.
    let doctor = w.stranger(Role::Doctor);
    let token = w.sign(&doctor.key, Action::RegisterIdentity(doctor.registration()));
    w.init_refused(&[CONFIG.to_vec(), token.into_bytes()], "invalid_payload");
    // Another action altogether, by the would-be admin.
    let key = w.admin_key();
    let act = ask(&mut w, &patient);
    let token = w.sign(&key, act);
    w.init_refused(&[CONFIG.to_vec(), token.into_bytes()], "invalid_payload");
    assert_eq!(w.state().entries().count(), 0);
}

#[test]
fn init_with_an_admin_registration_signed_by_another_key_is_refused() {
    let mut w = World::memory();
    w.reset_state();
    let key = w.admin_key();
    let intruder = w.stranger(Role::Admin);
    // The intruder signs a registration of the admin's key under its own iss.
    let registration = w.admin.registration();
    let token = w.sign(&intruder.key, Action::RegisterIdentity(registration));
    w.init_refused(&[CONFIG.to_vec(), token.into_bytes()], "signature_invalid");
    // And a properly signed one for another audience is refused too.
    let registration = w.admin.registration();
    let token = Statement::new(
        key.actor_id(),
        "elsewhere",
        Action::RegisterIdentity(registration),
        w.now(),
        600,
        &mut w.rng,
    )
    .sign(&key)
    .unwrap();
    w.init_refused(&[CONFIG.to_vec(), token.into_bytes()], "wrong_audience");
    assert_eq!(w.state().entries().count(), 0);
}

#[test]
fn init_with_a_bad_config_is_refused() {
    let mut w = World::memory();
    w.reset_state();
    let token = w.admin_registration();
    for config in [
        &b"not json"[..],
        br#"{}"#,
        br#"{"audience":"carechain:test","surprise":1}"#,
        br#"{"audience":42}"#,
        b"\xff\xfe",
    ] {
        w.init_refused(
            &[config.to_vec(), token.clone().into_bytes()],
            "bad_arguments",
        );
    }
    for config in [
        &br#"{"audience":"   "}"#[..],
        br#"{"audience":"carechain:test","max_skew_secs":-1}"#,
        br#"{"audience":"carechain:test","max_skew_secs":3601}"#,
        br#"{"audience":"carechain:test","max_lifetime_secs":59}"#,
        br#"{"audience":"carechain:test","max_lifetime_secs":86401}"#,
        // Storage rules this contract does not know.
        br#"{"audience":"carechain:test","rules":4}"#,
    ] {
        w.init_refused(
            &[config.to_vec(), token.clone().into_bytes()],
            "invalid_payload",
        );
    }
    let long = format!(r#"{{"audience":"{}"}}"#, "a".repeat(129));
    w.init_refused(&[long.into_bytes(), token.into_bytes()], "invalid_payload");
    assert_eq!(w.state().entries().count(), 0);
}

#[test]
fn init_with_the_wrong_number_of_arguments_or_a_non_utf8_statement_is_refused() {
    let mut w = World::memory();
    w.reset_state();
    let token = w.admin_registration();
    w.init_refused(&[], "bad_arguments");
    w.init_refused(&[CONFIG.to_vec()], "bad_arguments");
    w.init_refused(
        &[CONFIG.to_vec(), token.clone().into_bytes(), b"x".to_vec()],
        "bad_arguments",
    );
    w.init_refused(&[CONFIG.to_vec(), vec![0xff, 0xfe]], "bad_arguments");
    w.init_refused(&[CONFIG.to_vec(), b"garbage".to_vec()], "statement_invalid");
    assert_eq!(w.state().entries().count(), 0);
    // The right arguments still work afterwards.
    w.invoke("init", &[CONFIG.to_vec(), token.into_bytes()])
        .unwrap();
}

#[test]
fn the_genesis_statement_cannot_be_replayed_through_submit() {
    let mut w = World::memory();
    w.reset_state();
    let token = w.admin_registration();
    w.invoke("init", &[CONFIG.to_vec(), token.clone().into_bytes()])
        .unwrap();
    w.refuses_token(&token, "replayed_nonce");
}

// ---- the one-time nonce ----
