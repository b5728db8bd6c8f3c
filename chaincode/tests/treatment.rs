//! The doctor-signed treatment facts of a record write (storage rules 3):
//! required and checked from rules 3, each refusal with its own code and the
//! state unchanged; optional and ignored under older rules; the policy term
//! of a claim checked against the date of service.
#![allow(dead_code, clippy::unwrap_used)]

mod support;

use carechain_core::statement::{
    Action, DEFAULT_MAX_SERVICE_AGE_SECS, RecordCategory, Role, Treatment,
};
use carechain_testkit::statements::visit;
use support::insurance::*;
use support::*;

/// A visit at `date_of_service` billed `billed` in `currency`.
fn facts(date_of_service: i64, billed: u64, currency: &str) -> Treatment {
    Treatment {
        date_of_service,
        billed,
        currency: currency.into(),
    }
}

/// A world under `config` with a patient and a doctor holding a write grant.
fn world(config: &str) -> (World, Actor, Actor) {
    let mut w = World::memory_with_config(config.as_bytes());
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    w.consent(&doctor, &patient);
    (w, patient, doctor)
}

fn rules(rules: u32) -> String {
    format!(r#"{{"audience":"{AUD}","rules":{rules}}}"#)
}

/// `doctor`'s write for `patient` documenting `treatment` (none: `None`), refused as `code`.
#[track_caller]
fn write_refused(
    w: &mut World,
    doctor: &Actor,
    patient: &Actor,
    treatment: Option<Treatment>,
    code: &str,
) -> String {
    let mut body = w.record_body_of(patient, "E11.9", RecordCategory::General, visit(w.now()));
    body.treatment = treatment;
    w.refuses_as(doctor, Action::WriteRecord(body), code)
        .message
}

#[test]
fn under_rules_3_a_write_must_carry_valid_treatment_facts() {
    let (mut w, patient, doctor) = world(&rules(3));
    let now = w.now();
    let message = write_refused(&mut w, &doctor, &patient, None, "treatment_missing");
    assert!(message.contains("date of service"), "{message}");
    let cases = [
        (facts(now + 301, 1, "EUR"), "service_date_in_future"),
        (
            facts(now - DEFAULT_MAX_SERVICE_AGE_SECS - 1, 1, "EUR"),
            "service_date_too_old",
        ),
        (facts(now, 0, "EUR"), "billed_amount_invalid"),
        (facts(now, 1, "eur"), "currency_invalid"),
        (facts(now, 1, "EURO"), "currency_invalid"),
    ];
    for (treatment, code) in cases {
        let err = write_refused(&mut w, &doctor, &patient, Some(treatment), code);
        assert!(err.contains("expected"), "{err}");
    }
    // The edges are accepted: within the clock skew after, exactly the window before.
    for at in [now + 300, now - DEFAULT_MAX_SERVICE_AGE_SECS] {
        let record = w.write_treated(&doctor, &patient, "E11.9", facts(at, 1, "USD"));
        let state = w.query("record", &[&record.to_string()]).unwrap();
        assert_eq!(
            state["treatment"],
            serde_json::json!({"date_of_service": at, "billed": 1, "currency": "USD"})
        );
    }
}

#[test]
fn the_service_window_is_the_ledgers_and_stored_explicitly() {
    let (mut w, _, _) = world(&rules(3));
    let config = w.raw_query("config", &[]).unwrap();
    assert_eq!(config["max_service_age_secs"], DEFAULT_MAX_SERVICE_AGE_SECS);

    let month = 30 * DAY;
    let (mut w, patient, doctor) = world(&format!(
        r#"{{"audience":"{AUD}","rules":3,"max_service_age_secs":{month}}}"#
    ));
    let now = w.now();
    let old = facts(now - month - 1, 5_000, "EUR");
    write_refused(&mut w, &doctor, &patient, Some(old), "service_date_too_old");
    w.write_treated(&doctor, &patient, "E11.9", facts(now - month, 5_000, "EUR"));
}

#[test]
fn a_service_window_is_refused_out_of_range_or_under_older_rules() {
    let mut w = World::memory();
    w.reset_state();
    let token = w.admin_registration();
    for config in [
        format!(r#"{{"audience":"{AUD}","rules":3,"max_service_age_secs":3600}}"#),
        format!(
            r#"{{"audience":"{AUD}","rules":3,"max_service_age_secs":{}}}"#,
            3661 * DAY
        ),
        format!(r#"{{"audience":"{AUD}","rules":2,"max_service_age_secs":{DAY}}}"#),
        format!(r#"{{"audience":"{AUD}","max_service_age_secs":{DAY}}}"#),
    ] {
        let args = [config.into_bytes(), token.clone().into_bytes()];
        let err = w.init_refused(&args, "invalid_payload");
        assert!(
            err.message.contains("max_service_age_secs"),
            "{}",
            err.message
        );
    }
}

#[test]
fn under_rules_2_treatment_facts_are_optional_and_ignored() {
    let (mut w, patient, doctor) = world(&rules(2));
    let config = w.raw_query("config", &[]).unwrap();
    assert!(config.get("max_service_age_secs").is_none(), "{config}");
    let now = w.now();
    for treatment in [None, Some(facts(now + 10 * DAY, 0, "nope"))] {
        let mut body = w.record_body(&patient, "E11.9", RecordCategory::General);
        body.treatment = treatment;
        let record = body.record;
        w.submit(&doctor, Action::WriteRecord(body)).unwrap();
        let state = w.query("record", &[&record.to_string()]).unwrap();
        assert!(state.get("treatment").is_none(), "{state}");
    }
}

#[test]
fn the_term_is_checked_against_the_date_of_service_from_rules_3() {
    for (rules, expected) in [
        (3, ("rejected", Some("record_outside_term"))),
        (2, ("approved", None)),
    ] {
        let (mut w, patient, doctor, insurer) = setup_under(Some(rules));
        let product = w.product(&insurer, &[("E11", 50_000)]);
        w.advance(DAY);
        let policy = w.policy(&insurer, &patient, product);
        w.advance(60);
        // Written inside the term, for a visit the day before it started.
        let before = w.now() - DAY;
        let record = w.write_treated(&doctor, &patient, "E11.9", visit(before));
        let result = w.claim(&patient, policy, record, 0).unwrap();
        assert_eq!(decision(&result), expected, "rules {rules}");
        // A visit inside the term is paid under either rules.
        let inside = w.write_treated(&doctor, &patient, "E11.9", visit(w.now() - 30));
        let result = w.claim(&patient, policy, inside, 0).unwrap();
        assert_eq!(decision(&result), ("approved", None), "rules {rules}");
    }
}
