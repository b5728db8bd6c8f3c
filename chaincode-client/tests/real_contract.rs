//! Conformance of the embedded ledger with the in-memory reference on the
//! real CareChain contract: the test kit's care story, every transaction and
//! query checked against `MemoryState` (same ids and timestamps), then the
//! final world state compared row by row and the chain verified.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use carechain_chaincode::CareChain;
use carechain_chaincode::contract::CURRENT_RULES;
use carechain_core::statement::{Action, IssuePolicy, ReadRecord, Revoke, Role};
use carechain_ledger::{EmbeddedOptions, verify};
use carechain_testkit::ledger::{Embedded, runtime};
use carechain_testkit::scenario::{care_story, care_story_answers};
use carechain_testkit::{decision, statements};

#[test]
fn a_care_scenario_matches_the_reference_and_verifies() {
    let rt = runtime();
    let e = Embedded::open(EmbeddedOptions::default());
    let mut c = e.world(&rt, Some(CURRENT_RULES));
    assert_eq!(care_story(&mut c), care_story_answers());

    // Final world state, row by row.
    let reference = c.driver.reference.take().unwrap();
    drop(c);
    let Embedded { dir, ledger, .. } = e;
    let ledger = Arc::into_inner(ledger).unwrap();
    ledger.close();
    let conn = rusqlite::Connection::open(dir.path().join("ledger.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT key, value FROM state ORDER BY key")
        .unwrap();
    let stored: Vec<(String, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want: Vec<(String, Vec<u8>)> = reference
        .entries()
        .map(|(k, v)| (k.to_owned(), v.to_vec()))
        .collect();
    assert_eq!(stored.len(), want.len());
    assert!(stored == want, "world states differ");
    let report = verify(dir.path(), &CareChain).unwrap();
    assert_eq!(report.state_keys as usize, want.len());
}

/// A chain written under the original storage rules (an `init` config
/// without `rules`, as every ledger before the live-grant index): consent
/// still works on it, it writes no index, and it verifies under the current
/// contract.
#[test]
fn a_chain_under_the_original_rules_still_works_and_verifies() {
    let rt = runtime();
    let e = Embedded::open(EmbeddedOptions::default());
    let mut c = e.world(&rt, None);
    let config = c.query("config", &[]).unwrap();
    assert!(config.get("rules").is_none(), "{config}");
    let patient = c.patient(0);
    let doctor = c.registered(Role::Doctor);
    let request = c.consent(&doctor, &patient);
    let record = c.write(&doctor, &patient, "I10");
    let read = Action::ReadRecord(ReadRecord { record });
    c.submit(&doctor, read.clone()).unwrap();
    c.submit(&patient, Action::Revoke(Revoke { request }))
        .unwrap();
    assert_eq!(c.submit(&doctor, read).unwrap_err().code, "forbidden");
    let readers = c
        .query("readers", &[patient.id().as_str(), "general"])
        .unwrap();
    assert_eq!(readers.as_array().unwrap().len(), 1, "the patient only");
    let reference = c.driver.reference.as_ref().unwrap();
    assert!(
        !reference
            .entries()
            .any(|(k, _)| k.starts_with("live-grant/"))
    );
    drop(c);
    let Embedded { dir, ledger, .. } = e;
    drop(ledger);
    let report = verify(dir.path(), &CareChain).unwrap();
    assert!(report.transactions > 0, "{report:?}");
}

/// A chain written under rules 1, where an issue carries the insurer's
/// `E(M_i)`: its policies keep their ciphertexts, claims are decided from
/// them as before (an insurer's wrong `E(M_i)` still makes its item never
/// pay), the rules-2 statements are refused, and the chain verifies.
#[test]
fn a_chain_under_rules_1_still_decides_from_the_insurers_ciphertexts_and_verifies() {
    let rt = runtime();
    let e = Embedded::open(EmbeddedOptions::default());
    let mut c = e.world(&rt, Some(1));
    let patient = c.patient(0);
    let doctor = c.registered(Role::Doctor);
    let insurer = c.registered(Role::Insurer);
    c.consent(&doctor, &patient);
    let product = c.product(&insurer, &[("I10", 10_000), ("E11", 50_000)]);
    let honest = c.policy(&insurer, &patient, product);
    let issued = c.query("policy", &[&honest.to_string()]).unwrap();
    assert_eq!(issued["items"].as_array().unwrap().len(), 2, "{issued}");
    assert!(issued.get("declined").is_none(), "{issued}");

    // The old flaw, kept as it was: swapped ciphertexts are accepted at issue.
    let swapped = c.purchase(&patient, product);
    let mut items = c.issue_items(&patient, product);
    items.swap(0, 1);
    let issue = Action::IssuePolicy(IssuePolicy {
        policy: swapped,
        items,
    });
    c.submit(&insurer, issue).unwrap();
    // Rules 2's statements are not rules 1's.
    let third = c.purchase(&patient, product);
    let decline = Action::DeclinePolicy(statements::decline(third, "no"));
    assert_eq!(
        c.submit(&insurer, decline).unwrap_err().code,
        "bad_arguments"
    );
    let accept = Action::IssuePolicy(statements::accept(third));
    assert_eq!(
        c.submit(&insurer, accept).unwrap_err().code,
        "invalid_payload"
    );

    let record = c.write(&doctor, &patient, "E11.9");
    let paid = c.claim(&patient, honest, record, 1).unwrap();
    assert_eq!(decision(&paid), ("approved", None));
    let never = c.claim(&patient, swapped, record, 1).unwrap();
    assert_eq!(decision(&never), ("rejected", Some("proof_failed")));

    drop(c);
    let Embedded { dir, ledger, .. } = e;
    drop(ledger);
    let report = verify(dir.path(), &CareChain).unwrap();
    assert!(report.transactions >= 10, "{report:?}");
}
