//! Parallel execution gives exactly the serial result: conflicting
//! transactions in one batch, and a differential test against the in-memory
//! reference over random mixes of conflicting and independent transactions.
#![allow(clippy::unwrap_used)] // Test helpers outside #[test] functions.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use carechain_chaincode::Chaincode;
use carechain_chaincode::memory::MemoryState;
use carechain_ledger::{
    Committed, EmbeddedLedger, EmbeddedOptions, Ledger, LedgerError, Proposal, verify,
};
use carechain_testkit::ledger::assert_committed_as_reference;
use common::{KvContract, options, p};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Pending<'a> = Pin<Box<dyn Future<Output = Result<Committed, LedgerError>> + Send + 'a>>;

/// Submits every proposal, queued in this order (each submission enters the
/// writer's queue on its first poll), and waits for all the answers.
async fn submit_in_order(
    ledger: &EmbeddedLedger,
    proposals: &[Proposal],
) -> Vec<Result<Committed, LedgerError>> {
    let mut futures: Vec<Pending<'_>> =
        proposals.iter().map(|p| ledger.submit(p.clone())).collect();
    let mut early: Vec<Option<Result<Committed, LedgerError>>> = Vec::new();
    for f in &mut futures {
        early.push(match futures::poll!(f.as_mut()) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        });
    }
    let mut out = Vec::new();
    for (f, early) in futures.into_iter().zip(early) {
        out.push(match early {
            Some(r) => r,
            None => f.await,
        });
    }
    out
}

fn open_with(dir: &std::path::Path, workers: usize, max_batch: usize) -> EmbeddedLedger {
    let options = EmbeddedOptions {
        workers,
        max_batch,
        ..options()
    };
    EmbeddedLedger::open(dir, Arc::new(KvContract), options).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_increments_in_one_batch_give_the_serial_result() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_with(dir.path(), 2, 1024);
    // Two submitters' worth of increments of one counter, interleaved with
    // independent writes, all queued at once so they share batches.
    let mut proposals = Vec::new();
    for i in 0..40 {
        proposals.push(p("incr", &["shared"]));
        proposals.push(p("put", &[&format!("own/{i}"), "v"]));
    }
    let results = submit_in_order(&ledger, &proposals).await;
    let counts: Vec<String> = results
        .iter()
        .step_by(2)
        .map(|r| String::from_utf8(r.as_ref().unwrap().payload.clone()).unwrap())
        .collect();
    let want: Vec<String> = (1..=40).map(|n| n.to_string()).collect();
    assert_eq!(counts, want, "each increment sees every earlier one");
    let stats = ledger.execution_stats();
    assert!(stats.conflicts > 0, "{stats:?}");
    assert!(stats.parallel > 0, "{stats:?}");
    drop(ledger);
    verify(dir.path(), &KvContract).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_does_not_shift_the_ids_of_later_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open_with(dir.path(), 2, 1024);
    let proposals = [
        p("refuse", &["x"]),
        p("now", &[]),
        p("refuse", &["y"]),
        p("now", &[]),
    ];
    let results = submit_in_order(&ledger, &proposals).await;
    for (i, r) in results.iter().enumerate() {
        if i % 2 == 1 {
            let c = r.as_ref().unwrap();
            // The id the contract saw is the id the ledger reports and stores.
            let seen = String::from_utf8(c.payload.clone()).unwrap();
            assert!(seen.ends_with(&c.tx_id), "{seen} vs {}", c.tx_id);
            let block = ledger.block(c.block).unwrap();
            assert!(block.transactions.iter().any(|t| t.tx_id == c.tx_id));
        } else {
            assert!(matches!(r, Err(LedgerError::Refused { .. })));
        }
    }
    drop(ledger);
    verify(dir.path(), &KvContract).unwrap();
}

fn random_proposal(rng: &mut ChaCha8Rng, i: usize) -> Proposal {
    // Few shared keys (conflicts) and many own keys (none).
    let shared = ["a", "b", "c", "n"];
    let key = if rng.gen_bool(0.5) {
        shared[rng.gen_range(0..shared.len())].to_string()
    } else {
        format!("own/{i}")
    };
    let value = format!("v{i}");
    match rng.gen_range(0..10) {
        0 | 1 => p("put", &[&key, &value]),
        2 | 3 => p("incr", &[&key]),
        4 => p("get", &[&key]),
        5 => p("del", &[&key]),
        6 => p("range", &["a", "c"]),
        7 => p("history", &[&key]),
        8 => p("refuse", &[&key]),
        _ => p("put_then_get", &[&key, &value]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_mixes_match_a_serial_run_of_the_reference() {
    let mut totals = (0, 0, 0);
    for seed in 0..12u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let dir = tempfile::tempdir().unwrap();
        // Small batches: 40 queued submissions always leave some queued when
        // a block commits, so batches run ahead.
        let ledger = open_with(dir.path(), 1 + seed as usize % 3, 4 + seed as usize % 8);
        let mut reference = MemoryState::new();
        for round in 0..3 {
            let proposals: Vec<Proposal> = (0..40)
                .map(|i| random_proposal(&mut rng, round * 100 + i))
                .collect();
            let results = submit_in_order(&ledger, &proposals).await;
            for (proposal, got) in proposals.iter().zip(results) {
                let (f, args) = (&proposal.function, &proposal.args);
                match got {
                    Ok(c) => {
                        let call = (&KvContract as &dyn Chaincode, f.as_str(), args.as_slice());
                        let context = format!("seed {seed}: {f}");
                        assert_committed_as_reference(&ledger, &mut reference, &c, call, &context);
                    }
                    Err(LedgerError::Refused { code, .. }) => {
                        let want = reference.execute(&KvContract, "x", common::T0, f, args);
                        assert_eq!(want.unwrap_err().code, code, "seed {seed}: {f}");
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
        let range = ledger.evaluate(p("range", &["", ""])).await.unwrap();
        let mut want = String::new();
        for (k, v) in reference.entries() {
            want += &format!("{k}={};", String::from_utf8_lossy(v));
        }
        assert_eq!(String::from_utf8(range).unwrap(), want, "seed {seed}");
        let stats = ledger.execution_stats();
        totals.0 += stats.parallel;
        totals.1 += stats.conflicts;
        totals.2 += stats.ran_ahead;
        drop(ledger);
        verify(dir.path(), &KvContract).unwrap();
    }
    assert!(
        totals.0 > 0 && totals.1 > 0 && totals.2 > 0,
        "parallel, conflicts, ran ahead: {totals:?}"
    );
}
