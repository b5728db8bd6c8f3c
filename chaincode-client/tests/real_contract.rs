//! Conformance of the embedded ledger with the in-memory reference on the
//! real CareChain contract: one realistic scenario, every transaction and
//! query checked against `MemoryState` (same ids and timestamps), then the
//! final world state compared row by row and the chain verified.
#![allow(clippy::unwrap_used)]

mod care;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use care::{Care, DAY, SettableClock, decision};
use carechain_chaincode::CareChain;
use carechain_chaincode::memory::MemoryState;
use carechain_core::paillier::SecretKey;
use carechain_core::statement::{AccessAction, Action, MarkPaid, ReadRecord, Revoke, Role, Scope};
use carechain_ledger::{EmbeddedLedger, EmbeddedOptions, verify};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const T0: i64 = 1_800_000_000;

#[test]
fn a_care_scenario_matches_the_reference_and_verifies() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SettableClock(AtomicI64::new(T0)));
    let options = EmbeddedOptions {
        clock: clock.clone(),
        ..EmbeddedOptions::default()
    };
    let ledger = Arc::new(EmbeddedLedger::open(dir.path(), Arc::new(CareChain), options).unwrap());
    let mut c = Care::new(
        ledger.clone(),
        rt.handle().clone(),
        clock.clone(),
        Some(MemoryState::new()),
    );
    let advance = |secs: i64| clock.0.fetch_add(secs, Ordering::Relaxed);

    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let sk = Arc::new(SecretKey::generate(2048, &mut rng).unwrap());
    let patient = c.patient(&sk);
    let doctor = c.registered(Role::Doctor);
    let other_doctor = c.registered(Role::Doctor);
    let insurer = c.registered(Role::Insurer);

    // Consent: request, grant; a replayed grant statement is refused.
    let all = vec![AccessAction::Read, AccessAction::Write];
    let request = c.request(&doctor, &patient, all.clone(), Scope::All);
    let body = c.grant_body(&patient, &doctor, request, all.clone(), Scope::All, 7, &[]);
    let grant = c.token(&patient.key, Action::Grant(body));
    c.submit_token(&grant).unwrap();
    assert_eq!(c.submit_token(&grant).unwrap_err().code, "replayed_nonce");

    // Insurance: product, purchase, issue.
    let product = c.product(&insurer, &[("I10", 10_000), ("E11.9", 50_000)]);
    let policy = c.policy(&insurer, &patient, product);
    advance(3600);

    // Records: a write under the grant, a read by the doctor, a refused read.
    let record = c.write(&doctor, &patient, "E11.9");
    let read = c.submit(&doctor, Action::ReadRecord(ReadRecord { record }));
    assert!(read.is_ok(), "{read:?}");
    let refused = c.submit(&other_doctor, Action::ReadRecord(ReadRecord { record }));
    assert_eq!(refused.unwrap_err().status, 403);
    let other = c.write(&doctor, &patient, "I10");

    // Claims: approved, then the same pair again and a wrong item rejected.
    let approved = c.claim(&patient, policy, record, 1).unwrap();
    assert_eq!(decision(&approved), ("approved".into(), None));
    let again = c.claim(&patient, policy, record, 1).unwrap();
    assert_eq!(
        decision(&again),
        ("rejected".into(), Some("already_claimed".into()))
    );
    let wrong = c.claim(&patient, policy, other, 1).unwrap();
    assert_eq!(
        decision(&wrong),
        ("rejected".into(), Some("proof_failed".into()))
    );
    let claim = approved["claim"].as_str().unwrap().parse().unwrap();
    let paid = MarkPaid {
        claim,
        reference: "wire-1".into(),
    };
    c.submit(&insurer, Action::MarkPaid(paid)).unwrap();

    // Revoke: the next read is refused; queries agree.
    c.submit(&patient, Action::Revoke(Revoke { request }))
        .unwrap();
    advance(DAY);
    let after = c.submit(&doctor, Action::ReadRecord(ReadRecord { record }));
    assert_eq!(after.unwrap_err().status, 403);
    c.query("access_log", &[patient.id().as_str()]).unwrap();
    c.query("claims_for_patient", &[patient.id().as_str()])
        .unwrap();

    // Final world state, row by row.
    let reference = c.reference.take().unwrap();
    drop(c);
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SettableClock(AtomicI64::new(T0)));
    let options = EmbeddedOptions {
        clock: clock.clone(),
        ..EmbeddedOptions::default()
    };
    let ledger = Arc::new(EmbeddedLedger::open(dir.path(), Arc::new(CareChain), options).unwrap());
    let mut c = Care::with_rules(
        ledger.clone(),
        rt.handle().clone(),
        clock.clone(),
        Some(MemoryState::new()),
        None,
    );
    let config = c.query("config", &[]).unwrap();
    assert!(config.get("rules").is_none(), "{config}");
    let sk = Arc::new(SecretKey::generate(2048, &mut ChaCha20Rng::seed_from_u64(7)).unwrap());
    let patient = c.patient(&sk);
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
    let reference = c.reference.as_ref().unwrap();
    assert!(
        !reference
            .entries()
            .any(|(k, _)| k.starts_with("live-grant/"))
    );
    drop(c);
    drop(ledger);
    let report = verify(dir.path(), &CareChain).unwrap();
    assert!(report.transactions > 0, "{report:?}");
}
