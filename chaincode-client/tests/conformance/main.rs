//! One suite of ledger behaviours run against both backends: the embedded
//! ledger, and the Fabric backend talking to a test peer's Gateway that runs
//! the same contract through the chaincode server. The same statements must
//! get the same answers (results, refusals with their status and code, claim
//! decisions), the same events in the same order, resumable from a block,
//! and the same audit trail.
#![allow(clippy::unwrap_used, missing_docs)]

mod gateway;

use std::sync::Arc;
use std::time::Duration;

use carechain_chaincode::CareChain;
use carechain_core::statement::Role;
use carechain_fabric_testpeer::TestNetwork;
use carechain_ledger::{ChaincodeEvent, EmbeddedLedger, EmbeddedOptions, Ledger, Proposal, TxMeta};
use carechain_testkit::Contract;
use carechain_testkit::fabric::{self, world_on};
use carechain_testkit::ledger::runtime;
use carechain_testkit::scenario::{Transcript, care_story, care_story_answers};
use futures::StreamExt;

/// The care story of the test kit, then a call of a function the contract does not know.
fn story(ledger: Arc<dyn Ledger>, rt: &tokio::runtime::Runtime) -> Transcript {
    let mut c = world_on(ledger, rt);
    let mut t = care_story(&mut c);
    t.push("unknown function", c.driver.raw_query("no_such_query", &[]));
    t
}

/// Every event from `from_block` until none arrives for a while.
async fn events(ledger: &dyn Ledger, from_block: u64) -> Vec<ChaincodeEvent> {
    let mut stream = ledger.events(from_block);
    let mut seen = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(700), stream.next()).await
    {
        seen.push(event.unwrap());
    }
    seen
}

/// What both backends must agree on, besides the transcript.
#[derive(Debug, PartialEq)]
struct Trail {
    /// `(action, creator, valid)` of every transaction, in commit order.
    transactions: Vec<(String, Option<String>, bool)>,
    /// Event names, in commit order.
    event_names: Vec<String>,
}

/// The trail of `ledger`, checking on the way what each backend must hold
/// on its own: events match valid transactions, a resumed stream gives
/// exactly the suffix, and the height is one past the last block.
async fn trail(ledger: &dyn Ledger) -> Trail {
    let height = ledger.height().await.unwrap();
    let metas: Vec<TxMeta> = ledger.transactions(0, height).await.unwrap();
    assert_eq!(
        metas.last().unwrap().block + 1,
        height,
        "height is one past the last block"
    );
    let all = events(ledger, 0).await;
    for event in &all {
        let tx = metas.iter().find(|m| m.tx_id == event.tx_id).unwrap();
        assert!(
            tx.valid && tx.block == event.block,
            "event of a committed transaction"
        );
    }
    // Resume from the block of the middle event: exactly the suffix, no repeats.
    let middle = all[all.len() / 2].block;
    let resumed = events(ledger, middle).await;
    let suffix: Vec<_> = all.iter().filter(|e| e.block >= middle).cloned().collect();
    assert_eq!(resumed, suffix);
    Trail {
        transactions: metas
            .into_iter()
            .map(|m| (m.action, m.creator, m.valid))
            .collect(),
        event_names: all.into_iter().map(|e| e.name).collect(),
    }
}

/// A fresh embedded ledger (in the returned folder) and a fresh test
/// network's Gateway, both running the contract.
fn backends(
    rt: &tokio::runtime::Runtime,
) -> (tempfile::TempDir, TestNetwork, [Arc<dyn Ledger>; 2]) {
    let dir = tempfile::tempdir().unwrap();
    let embedded: Arc<dyn Ledger> = Arc::new(
        EmbeddedLedger::open(dir.path(), Arc::new(CareChain), EmbeddedOptions::default()).unwrap(),
    );
    let (network, fabric) = fabric::start(rt);
    (dir, network, [embedded, fabric])
}

#[test]
fn both_backends_answer_the_same_story_the_same_way() {
    let rt = runtime();
    let (_dir, _network, [embedded, fabric]) = backends(&rt);

    let mut answers = Vec::new();
    let mut trails = Vec::new();
    for ledger in [embedded, fabric] {
        // Not initialised yet: both refuse a query the same way.
        let before = rt.block_on(ledger.evaluate(Proposal::new("policy", [b"p".to_vec()])));
        let refused = match before.unwrap_err() {
            carechain_ledger::LedgerError::Refused { status, code, .. } => (status, code),
            other => panic!("expected a refusal, found {other}"),
        };
        answers.push((refused, story(ledger.clone(), &rt)));
        trails.push(rt.block_on(trail(ledger.as_ref())));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(trails[0], trails[1]);
    // The story is not trivial: refusals, decisions and events all occur,
    // and its answers are those of every other backend.
    let (_, transcript) = &answers[0];
    let (story, unknown) = transcript.0.split_at(transcript.0.len() - 1);
    assert_eq!(story, &care_story_answers().0[..]);
    assert_eq!(unknown[0].1, Err((400, "unknown_function".to_owned())));
    assert!(
        transcript
            .0
            .iter()
            .any(|(_, a)| a.as_ref().is_err_and(|(s, _)| *s == 403))
    );
    assert!(
        transcript
            .0
            .iter()
            .any(|(_, a)| a.as_ref().is_ok_and(|s| s.contains("approved")))
    );
    assert!(
        trails[0].event_names.len() >= 10,
        "{:?}",
        trails[0].event_names
    );
}

/// A page of `products` through each backend: exactly `limit` items and the
/// cursor of the next page. Through the test peer the contract's list query
/// is a paginated `GET_STATE_BY_RANGE` (`QueryMetadata` page size, the
/// bookmark in `QueryResponseMetadata`) over the real chaincode server.
#[test]
fn both_backends_page_a_list_with_the_same_limits_and_cursors() {
    let rt = runtime();
    let (_dir, _network, [embedded, fabric]) = backends(&rt);
    let mut walks = Vec::new();
    for ledger in [embedded, fabric] {
        let mut c = world_on(ledger, &rt);
        let insurer = c.registered(Role::Insurer);
        let mut made: Vec<String> = (0..5)
            .map(|_| c.product(&insurer, &[("I10", 100)]).to_string())
            .collect();
        made.sort();
        let mut seen = Vec::new();
        let mut cursors = Vec::new();
        let mut after = String::new();
        loop {
            let page = c.query("products", &[&after, "2"]).unwrap();
            let items = page["items"].as_array().unwrap();
            let next = page["next"].as_str().map(str::to_owned);
            // A full page names its last item as the cursor; a short one ends the list.
            assert_eq!(next.is_some(), items.len() == 2, "{page}");
            seen.extend(
                items
                    .iter()
                    .map(|p| p["product"].as_str().unwrap().to_owned()),
            );
            cursors.push(next.clone());
            match next {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(seen, made);
        assert_eq!(
            cursors,
            vec![Some(made[1].clone()), Some(made[3].clone()), None]
        );
        walks.push(cursors.len());
    }
    assert_eq!(walks[0], walks[1]);
}
