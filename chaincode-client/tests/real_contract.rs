//! Conformance of the embedded ledger with the in-memory reference on the
//! real CareChain contract: the test kit's care story, every transaction and
//! query checked against `MemoryState` (same ids and timestamps), then the
//! final world state compared row by row and the chain verified.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use carechain_chaincode::CareChain;
use carechain_chaincode::contract::CURRENT_RULES;
use carechain_core::statement::{Action, ReadRecord, Revoke, Role};
use carechain_ledger::{EmbeddedOptions, verify};
use carechain_testkit::ledger::{Embedded, runtime};
use carechain_testkit::scenario::{care_story, care_story_answers};

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
