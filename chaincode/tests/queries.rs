//! Read-only queries: lookups, paginated lists, `readers`, and their refusals.

// Test code unwraps freely (clippy's allow-unwrap-in-tests does not reach helpers
// in integration-test crates, nor the shared `support` module compiled into each).
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

mod support;

use carechain_core::ids::RequestId;
use carechain_core::statement::*;
use serde_json::Value;
use support::*;

use AccessAction::{Read, Write};

/// Walks a paginated list with `limit`, returning every page's items and cursors.
fn walk(w: &mut World, query: &str, owner: &str, limit: &str) -> (Vec<Value>, Vec<Option<String>>) {
    let mut items = Vec::new();
    let mut cursors = Vec::new();
    let mut after = String::new();
    for _ in 0..20 {
        let page = w.raw_query(query, &[owner, &after, limit]).unwrap();
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit.parse::<usize>().unwrap());
        items.extend(got.iter().cloned());
        let next = page["next"].as_str().map(str::to_owned);
        cursors.push(next.clone());
        match next {
            Some(next) => after = next,
            None => return (items, cursors),
        }
    }
    panic!("pagination did not end");
}

fn ids(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[field].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn pages_of_requests_give_each_request_exactly_once_in_order() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let mut made: Vec<String> = (0..5)
        .map(|_| {
            w.request(&doctor, &patient, vec![Read], Scope::All)
                .to_string()
        })
        .collect();
    made.sort();

    for (query, owner) in [
        ("requests_for_patient", patient.id()),
        ("requests_by_doctor", doctor.id()),
    ] {
        let (items, cursors) = walk(&mut w, query, owner.as_str(), "2");
        assert_eq!(ids(&items, "request"), made, "{query}");
        // 2 + 2 + 1: the cursor of a full page is its last id; a short page ends it.
        assert_eq!(
            cursors,
            vec![Some(made[1].clone()), Some(made[3].clone()), None],
            "{query}"
        );
        // Default limit: everything at once, no cursor.
        let page = w.raw_query(query, &[owner.as_str()]).unwrap();
        assert_eq!(ids(page["items"].as_array().unwrap(), "request"), made);
        assert_eq!(page["next"], Value::Null);
        // An empty `after` and `limit` mean the defaults.
        let page = w.raw_query(query, &[owner.as_str(), "", ""]).unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 5);
    }
}

#[test]
fn a_last_page_that_is_exactly_full_ends_the_list() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    for _ in 0..4 {
        w.request(&doctor, &patient, vec![Read], Scope::All);
    }
    let (items, cursors) = walk(&mut w, "requests_for_patient", patient.id().as_str(), "2");
    assert_eq!(items.len(), 4);
    // Two full pages and no empty third one: the second page says it is the last.
    assert_eq!(cursors.len(), 2);
    assert!(cursors[0].is_some());
    assert_eq!(cursors[1], None);
    // One item short of full pages: the last page is short and ends the list too.
    let (items, cursors) = walk(&mut w, "requests_for_patient", patient.id().as_str(), "3");
    assert_eq!(items.len(), 4);
    assert_eq!(cursors, vec![Some(cursors[0].clone().unwrap()), None]);
}

#[test]
fn lists_are_per_owner() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let other_patient = w.patient(1);
    let doctor = w.registered(Role::Doctor);
    let other_doctor = w.registered(Role::Doctor);
    let mine = w.request(&doctor, &patient, vec![Read], Scope::All);
    let theirs = w.request(&other_doctor, &other_patient, vec![Read], Scope::All);
    for (query, owner, only) in [
        ("requests_for_patient", &patient, mine),
        ("requests_by_doctor", &other_doctor, theirs),
    ] {
        let page = w.query(query, &[owner.id().as_str()]).unwrap();
        assert_eq!(
            ids(page["items"].as_array().unwrap(), "request"),
            vec![only.to_string()],
            "{query}"
        );
    }
    // Someone with nothing has an empty list, not an error.
    let stranger = w.stranger(Role::Doctor);
    let page = w
        .query("requests_by_doctor", &[stranger.id().as_str()])
        .unwrap();
    assert_eq!(page["items"], serde_json::json!([]));
    assert_eq!(page["next"], Value::Null);
}

#[test]
fn records_and_access_log_paginate_too() {
    let (mut w, patient, doctor, records) = three_records();
    let (items, _) = walk(&mut w, "records_for_patient", patient.id().as_str(), "2");
    assert_eq!(ids(&items, "record"), records);

    for (i, record) in records.iter().enumerate() {
        w.advance(10 * (i as i64 + 1));
        w.submit(
            &doctor,
            Action::ReadRecord(ReadRecord {
                record: record.parse().unwrap(),
            }),
        )
        .unwrap();
    }
    let (items, cursors) = walk(&mut w, "access_log", patient.id().as_str(), "2");
    assert_eq!(ids(&items, "record"), records, "log in time order");
    assert_eq!(cursors.len(), 2);
    let at: Vec<i64> = items.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert!(at.windows(2).all(|p| p[0] < p[1]), "{at:?}");
}

#[test]
fn a_bad_limit_is_refused_bad_arguments() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let owner = patient.id();
    for limit in [
        "0",
        "101",
        "x",
        "-1",
        "1.5",
        " 2",
        "99999999999999999999999",
    ] {
        for query in [
            "requests_for_patient",
            "requests_by_doctor",
            "records_for_patient",
            "access_log",
            "policies_for_patient",
            "claims_for_patient",
        ] {
            let err = refused(
                w.raw_query(query, &[owner.as_str(), "", limit]),
                "bad_arguments",
            );
            assert_eq!(err.status, 400);
        }
        refused(w.raw_query("products", &["", limit]), "bad_arguments");
    }
    for limit in ["1", "100"] {
        w.raw_query("requests_for_patient", &[owner.as_str(), "", limit])
            .unwrap();
    }
}

#[test]
fn ids_that_are_not_a_single_path_segment_are_refused_bad_arguments() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let request = w.request(&doctor, &patient, vec![Read], Scope::All);
    // `request/{id}` exists; reaching it, or another table, through a '/' is refused.
    let sneaky = format!("x/../{request}");
    let long = "a".repeat(65);
    for id in ["a/b", "../config", "/", "", &sneaky, &long, "a\0b"] {
        for query in [
            "identity",
            "request",
            "record",
            "requests_for_patient",
            "requests_by_doctor",
            "records_for_patient",
            "access_log",
            "product",
            "policy",
            "claim",
        ] {
            refused(w.raw_query(query, &[id]), "bad_arguments");
        }
        refused(w.raw_query("record_key", &[id, "cc"]), "bad_arguments");
        refused(w.raw_query("record_key", &["r", id]), "bad_arguments");
    }
    // A missing argument is refused the same way.
    for query in [
        "identity",
        "request",
        "record",
        "record_key",
        "readers",
        "access_log",
    ] {
        refused(w.raw_query(query, &[]), "bad_arguments");
    }
    let args = vec![vec![0xffu8, 0xfe]];
    refused(w.driver.raw_query("identity", &args), "bad_arguments");
}

#[test]
fn an_unknown_query_is_refused_unknown_function() {
    let mut w = World::memory();
    for name in ["", "nope", "Identity", "init2", "submit_all"] {
        let err = refused(w.raw_query(name, &[]), "unknown_function");
        assert_eq!(err.status, 400);
    }
    let before = w.snapshot();
    refused(
        w.invoke("delete", &[b"config".to_vec()]),
        "unknown_function",
    );
    assert!(w.snapshot() == before);
}

#[test]
fn a_lookup_of_something_absent_is_refused_not_found() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let stranger = w.stranger(Role::Patient);
    let id = RequestId::random(&mut w.rng).to_string();
    for query in ["request", "record", "product", "policy", "claim"] {
        let err = refused(w.raw_query(query, &[&id]), "not_found");
        assert_eq!(err.status, 404);
    }
    refused(
        w.raw_query("identity", &[stranger.id().as_str()]),
        "not_found",
    );
    refused(
        w.raw_query("record_key", &[&id, patient.id().as_str()]),
        "not_found",
    );
    refused(
        w.raw_query("readers", &[stranger.id().as_str(), "general"]),
        "not_found",
    );
}

#[test]
fn config_and_identity_queries_return_the_stored_values() {
    let mut w = World::memory();
    let config = w.raw_query("config", &[]).unwrap();
    assert_eq!(
        config,
        serde_json::json!({
            "audience": AUD, "max_skew_secs": 300, "max_lifetime_secs": 3600, "rules": 3,
            "max_service_age_secs": 365 * DAY
        })
    );
    let doctor = w.registered(Role::Doctor);
    let identity = w.raw_query("identity", &[doctor.id().as_str()]).unwrap();
    assert_eq!(identity["actor"], doctor.id().as_str());
    assert_eq!(identity["role"], "doctor");
}

#[test]
fn queries_change_nothing_and_emit_nothing() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    w.consent(&doctor, &patient);
    let record = w.write(&doctor, &patient, "I10");
    let before = w.snapshot();
    let last = w.driver.last_event.clone();
    w.raw_query("record", &[&record.to_string()]).unwrap();
    w.raw_query("record_key", &[&record.to_string(), doctor.id().as_str()])
        .unwrap();
    w.raw_query("access_log", &[patient.id().as_str()]).unwrap();
    w.raw_query("readers", &[patient.id().as_str(), "general"])
        .unwrap();
    assert!(w.snapshot() == before);
    assert_eq!(w.driver.last_event, last);
    // In particular a `read_record` sent as a query is not a known query.
    refused(
        w.raw_query("read_record", &[&record.to_string()]),
        "unknown_function",
    );
}

#[test]
fn readers_lists_the_patient_and_the_current_readers_only() {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = |w: &mut World| w.registered(Role::Doctor);
    let current = doctor(&mut w);
    let request = w.request(&current, &patient, vec![Read], Scope::All);
    let body = w.grant_body(&patient, &current, request, vec![Read], Scope::All, 7, &[]);
    w.submit(&patient, Action::Grant(body)).unwrap();

    let expired = doctor(&mut w);
    let request = w.request(&expired, &patient, vec![Read], Scope::All);
    let mut body = w.grant_body(&patient, &expired, request, vec![Read], Scope::All, 1, &[]);
    body.expires_at = w.now() + 3600;
    w.submit(&patient, Action::Grant(body)).unwrap();

    let revoked = doctor(&mut w);
    let request = w.request(&revoked, &patient, vec![Read], Scope::All);
    let body = w.grant_body(&patient, &revoked, request, vec![Read], Scope::All, 7, &[]);
    w.submit(&patient, Action::Grant(body)).unwrap();
    w.submit(&patient, Action::Revoke(Revoke { request }))
        .unwrap();

    let pending = doctor(&mut w);
    w.request(&pending, &patient, vec![Read], Scope::All);

    let denied = doctor(&mut w);
    let request = w.request(&denied, &patient, vec![Read], Scope::All);
    w.submit(&patient, Action::Deny(Deny { request })).unwrap();

    let writer = doctor(&mut w);
    let request = w.request(&writer, &patient, vec![Read, Write], Scope::All);
    let body = w.grant_body(&patient, &writer, request, vec![Write], Scope::All, 7, &[]);
    w.submit(&patient, Action::Grant(body)).unwrap();

    let lab = doctor(&mut w);
    let scope = Scope::Categories(vec![RecordCategory::Laboratory]);
    let request = w.request(&lab, &patient, vec![Read], scope.clone());
    let body = w.grant_body(&patient, &lab, request, vec![Read], scope, 7, &[]);
    w.submit(&patient, Action::Grant(body)).unwrap();

    // Another patient's reader is not this patient's.
    let other_patient = w.patient(1);
    let elsewhere = doctor(&mut w);
    w.consent(&elsewhere, &other_patient);

    let listed = |w: &mut World, category: &str| -> Vec<(String, String)> {
        let readers = w
            .query("readers", &[patient.id().as_str(), category])
            .unwrap();
        let mut got: Vec<_> = readers
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["actor"].as_str().unwrap().to_owned(),
                    r["hpke_key"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        got.sort();
        got
    };
    let entry = |a: &Actor| {
        (
            a.id().as_str().to_owned(),
            carechain_core::ids::B64(a.hpke.public_key().to_bytes()).encode(),
        )
    };
    let mut expected = vec![entry(&patient), entry(&current), entry(&expired)];
    expected.sort();
    assert_eq!(listed(&mut w, "general"), expected, "before the expiry");

    w.advance(3600);
    let mut expected = vec![entry(&patient), entry(&current)];
    expected.sort();
    assert_eq!(listed(&mut w, "general"), expected);
    let mut expected_lab = vec![entry(&patient), entry(&current), entry(&lab)];
    expected_lab.sort();
    assert_eq!(listed(&mut w, "laboratory"), expected_lab);

    // Once every grant is over, only the patient is left.
    w.advance(7 * DAY);
    assert_eq!(listed(&mut w, "general"), vec![entry(&patient)]);
}

#[test]
fn readers_with_a_bad_patient_or_category_is_refused_bad_arguments() {
    let mut w = World::memory();
    let patient = w.patient(0);
    for category in ["", "General", "lab", "mental_health"] {
        refused(
            w.raw_query("readers", &[patient.id().as_str(), category]),
            "bad_arguments",
        );
    }
    refused(
        w.raw_query("readers", &[patient.id().as_str()]),
        "bad_arguments",
    );
    for id in ["", "cc", "cc/../config", "not-an-actor"] {
        refused(w.raw_query("readers", &[id, "general"]), "bad_arguments");
    }
    for category in [
        "general",
        "laboratory",
        "imaging",
        "mental-health",
        "sexual-health",
        "substance-use",
        "genetic",
    ] {
        let readers = w
            .query("readers", &[patient.id().as_str(), category])
            .unwrap();
        assert_eq!(readers.as_array().unwrap().len(), 1, "{category}");
    }
}

/// A patient, a doctor with consent and the three records the doctor wrote,
/// their ids sorted.
fn three_records() -> (World, Actor, Actor, Vec<String>) {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    w.consent(&doctor, &patient);
    let mut records: Vec<String> = (0..3)
        .map(|_| w.write(&doctor, &patient, "I10").to_string())
        .collect();
    records.sort();
    (w, patient, doctor, records)
}

#[test]
fn records_with_keys_answer_each_record_with_the_readers_own_key() {
    let (mut w, patient, _, records) = three_records();
    let owner = patient.id();
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = w
            .query(
                "records_with_keys",
                &[owner.as_str(), owner.as_str(), &after, "2"],
            )
            .unwrap();
        for item in page["items"].as_array().unwrap() {
            let id = item["record"].as_str().unwrap().to_owned();
            // The record's own fields are inline, and the key is the patient's.
            assert_eq!(item["patient"], owner.as_str());
            let key = w.raw_query("record_key", &[&id, owner.as_str()]).unwrap();
            assert_eq!(item["key"], key);
            seen.push(id);
        }
        match page["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, records);
    // A reader holding no key gets the records with `key: null`.
    let stranger = w.registered(Role::Doctor);
    let page = w
        .query(
            "records_with_keys",
            &[owner.as_str(), stranger.id().as_str(), "", "100"],
        )
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|i| i["key"].is_null()));
    refused(
        w.raw_query("records_with_keys", &[owner.as_str(), "a/b", "", "10"]),
        "bad_arguments",
    );
}

#[test]
fn own_keys_answer_the_patients_keys_of_the_records_in_scope() {
    let (mut w, patient, _, records) = three_records();
    let owner = patient.id();
    let keys = w.raw_query("own_keys", &[owner.as_str(), "all"]).unwrap();
    let keys = keys.as_array().unwrap();
    assert_eq!(ids(keys, "record"), records);
    for key in keys {
        assert_eq!(key["category"], "general");
        let stored = w
            .query(
                "record_key",
                &[key["record"].as_str().unwrap(), owner.as_str()],
            )
            .unwrap();
        assert_eq!(key["key"], stored);
    }
    let lab = w
        .query("own_keys", &[owner.as_str(), "laboratory,imaging"])
        .unwrap();
    assert_eq!(lab, serde_json::json!([]));
    let general = w
        .query("own_keys", &[owner.as_str(), "laboratory,general"])
        .unwrap();
    assert_eq!(general.as_array().unwrap().len(), 3);
    // Another patient has none of them.
    let other = w.patient(1);
    let none = w
        .raw_query("own_keys", &[other.id().as_str(), "all"])
        .unwrap();
    assert_eq!(none, serde_json::json!([]));
    for scope in ["", "everything", "general,"] {
        refused(
            w.raw_query("own_keys", &[owner.as_str(), scope]),
            "bad_arguments",
        );
    }
}
