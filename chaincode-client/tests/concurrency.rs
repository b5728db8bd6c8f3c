//! Group commit under concurrent load, and resumable event streams.
#![allow(clippy::unwrap_used)] // Test helpers outside #[test] functions.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use carechain_ledger::{ChaincodeEvent, Ledger, verify};
use common::{KvContract, open, p};
use futures::StreamExt;
use futures::stream::BoxStream;

type Events = BoxStream<'static, Result<ChaincodeEvent, carechain_ledger::LedgerError>>;

async fn next(s: &mut Events) -> Result<ChaincodeEvent, carechain_ledger::LedgerError> {
    tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .expect("event within 10 s")
        .expect("stream still open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_submitters_are_all_acknowledged_in_shared_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let ledger: Arc<dyn Ledger> = Arc::new(open(dir.path()));
    const SUBMITTERS: usize = 64;
    const EACH: usize = 5;
    let tasks: Vec<_> = (0..SUBMITTERS)
        .map(|s| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                for i in 0..EACH {
                    // Every submitter bumps the shared counter and writes its own key.
                    let c = ledger.submit(p("incr", &["counter"])).await.unwrap();
                    out.push((c.block, String::from_utf8(c.payload).unwrap()));
                    let key = format!("s{s}/{i}");
                    ledger.submit(p("put", &[&key, "v"])).await.unwrap();
                }
                out
            })
        })
        .collect();
    let mut values = BTreeSet::new();
    let mut blocks = BTreeSet::new();
    for t in tasks {
        for (block, value) in t.await.unwrap() {
            blocks.insert(block);
            assert!(
                values.insert(value.parse::<u64>().unwrap()),
                "duplicate counter value"
            );
        }
    }
    // Serial execution: every increment saw all earlier ones.
    let total = (SUBMITTERS * EACH) as u64;
    assert_eq!(values, (1..=total).collect());
    let counter = ledger.evaluate(p("get", &["counter"])).await.unwrap();
    assert_eq!(counter, total.to_string().into_bytes());

    let height = ledger.height().await.unwrap();
    let txs = 2 * total;
    assert!(
        height - 1 < txs,
        "expected group commit to put several txs in a block: {txs} txs in {} blocks",
        height - 1
    );
    drop(ledger);
    let report = verify(dir.path(), &KvContract).unwrap();
    assert_eq!(report.transactions, txs);
    assert_eq!(report.state_keys, txs - total + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_resume_from_a_block_and_then_follow_live() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(open(dir.path()));
    let mut committed = Vec::new();
    for i in 0..5 {
        committed.push(
            ledger
                .submit(p("put", &[&format!("k{i}"), "v"]))
                .await
                .unwrap(),
        );
    }
    ledger.submit(p("refuse", &["k0"])).await.unwrap_err();
    assert_eq!(committed[2].block, 3);

    let mut stream = ledger.events(3);
    for c in &committed[2..] {
        let e: ChaincodeEvent = next(&mut stream).await.unwrap();
        assert_eq!(
            (e.block, &e.tx_id, e.name.as_str()),
            (c.block, &c.tx_id, "put")
        );
    }
    // Live: events of blocks committed after the subscription.
    let writer = {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let a = ledger.submit(p("incr", &["n"])).await.unwrap();
            let b = ledger.submit(p("del", &["k0"])).await.unwrap();
            (a, b)
        })
    };
    let e1 = next(&mut stream).await.unwrap();
    let e2 = next(&mut stream).await.unwrap();
    let (a, b) = writer.await.unwrap();
    assert_eq!(
        (e1.tx_id, e1.name, e1.payload),
        (a.tx_id, "incr".into(), b"1".to_vec())
    );
    assert_eq!(
        (e2.tx_id, e2.name, e2.payload),
        (b.tx_id, "del".into(), b"k0".to_vec())
    );

    // A stream from 0 replays everything in order; from past the head it waits.
    let all: Vec<_> = ledger.events(0).take(7).collect().await;
    let blocks: Vec<u64> = all.iter().map(|e| e.as_ref().unwrap().block).collect();
    assert_eq!(blocks, vec![1, 2, 3, 4, 5, 6, 7]);
    let mut future = ledger.events(100);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), future.next())
            .await
            .is_err(),
        "nothing before block 100"
    );

    // Closing the ledger ends the stream after what was committed.
    let mut tail = ledger.events(7);
    drop(future);
    drop(stream);
    let ledger = Arc::into_inner(ledger).unwrap();
    ledger.close();
    assert_eq!(tail.next().await.unwrap().unwrap().block, 7);
    assert!(tail.next().await.is_none());
}
