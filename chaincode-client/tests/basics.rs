//! Submit, evaluate, refusals, stub semantics, blocks and the in-memory reference.
#![allow(clippy::unwrap_used)] // Test helpers outside #[test] functions.

mod common;

use std::sync::Arc;

use carechain_chaincode::memory::MemoryState;
use carechain_ledger::{EmbeddedLedger, Ledger, LedgerError, verify};
use common::{KvContract, open, options, p};

fn text(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap()
}

#[tokio::test]
async fn submit_commits_and_evaluate_reads() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path());
    assert_eq!(ledger.height().await.unwrap(), 1, "genesis only");

    let c = ledger.submit(p("put", &["a", "1"])).await.unwrap();
    assert_eq!(c.block, 1);
    assert_eq!(c.tx_id.len(), 64);
    assert!(c.payload.is_empty(), "no previous value");
    let c2 = ledger.submit(p("put", &["a", "2"])).await.unwrap();
    assert_eq!(text(c2.payload), "1");
    assert_eq!(c2.block, 2);
    assert_eq!(ledger.height().await.unwrap(), 3);

    assert_eq!(text(ledger.evaluate(p("get", &["a"])).await.unwrap()), "2");
    // Evaluate records nothing, even for a function that writes.
    let before = ledger.height().await.unwrap();
    ledger.evaluate(p("put", &["b", "x"])).await.unwrap();
    assert_eq!(ledger.height().await.unwrap(), before);
    match ledger.evaluate(p("get", &["b"])).await {
        Err(LedgerError::Refused {
            status: 404, code, ..
        }) => assert_eq!(code, "not_found"),
        other => panic!("expected not_found, got {other:?}"),
    }

    let block = ledger.block(2).unwrap();
    assert_eq!(block.header.number, 2);
    assert_eq!(
        block.header.previous_hash,
        ledger.block(1).unwrap().header.hash()
    );
    assert_eq!(block.transactions.len(), 1);
    let tx = &block.transactions[0];
    assert_eq!(tx.tx_id, c2.tx_id);
    assert_eq!(tx.function, "put");
    assert_eq!(tx.event, Some(("put".into(), b"a".to_vec())));
    assert!(matches!(
        ledger.block(9),
        Err(LedgerError::NoSuchBlock {
            requested: 9,
            height: 3
        })
    ));
}

#[tokio::test]
async fn refused_and_panicking_transactions_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path());
    ledger.submit(p("put", &["k", "v"])).await.unwrap();
    let height = ledger.height().await.unwrap();

    match ledger.submit(p("refuse", &["k"])).await {
        Err(LedgerError::Refused {
            status,
            code,
            message,
        }) => {
            assert_eq!((status, code.as_str()), (409, "conflict"));
            assert_eq!(message, "refused on purpose");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    match ledger.submit(p("panic", &["k"])).await {
        Err(LedgerError::Refused {
            status: 500, code, ..
        }) => assert_eq!(code, "chaincode_panic"),
        other => panic!("expected a panic refusal, got {other:?}"),
    }
    assert_eq!(
        ledger.height().await.unwrap(),
        height,
        "no block for refused txs"
    );
    assert_eq!(text(ledger.evaluate(p("get", &["k"])).await.unwrap()), "v");
    assert_eq!(
        ledger
            .evaluate(p("history", &["k"]))
            .await
            .unwrap()
            .iter()
            .filter(|&&b| b == b';')
            .count(),
        1
    );

    // The writer survived the panic.
    let c = ledger.submit(p("put", &["k", "w"])).await.unwrap();
    assert_eq!(c.block, height);
    for n in 0..ledger.height().await.unwrap() {
        for tx in ledger.block(n).unwrap().transactions {
            assert_eq!(tx.function, "put", "only committed txs are in blocks");
        }
    }
    drop(ledger);
    verify(dir.path(), &KvContract).unwrap();
}

#[tokio::test]
async fn stub_semantics_history_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path());
    ledger.submit(p("put", &["x", "old"])).await.unwrap();
    // Reads see the state as of the start of the transaction, not own writes.
    let c = ledger
        .submit(p("put_then_get", &["x", "new"]))
        .await
        .unwrap();
    assert_eq!(text(c.payload), "old");
    assert_eq!(
        text(ledger.evaluate(p("get", &["x"])).await.unwrap()),
        "new"
    );
    let c = ledger
        .submit(p("put_then_get", &["fresh", "v"]))
        .await
        .unwrap();
    assert!(c.payload.is_empty());

    let d = ledger.submit(p("del", &["x"])).await.unwrap();
    let history = text(ledger.evaluate(p("history", &["x"])).await.unwrap());
    let entries: Vec<&str> = history.split_terminator(';').collect();
    assert_eq!(entries.len(), 3, "{history}");
    assert!(entries[0].ends_with(":old:false"));
    assert!(entries[1].ends_with(":new:false"));
    assert_eq!(entries[2], format!("{}::true", d.tx_id));

    for (k, v) in [("r/a", "1"), ("r/b", "2"), ("r/c", "3"), ("s", "4")] {
        ledger.submit(p("put", &[k, v])).await.unwrap();
    }
    let range = |a: &'static str, b: &'static str| {
        let ledger = &ledger;
        async move { text(ledger.evaluate(p("range", &[a, b])).await.unwrap()) }
    };
    assert_eq!(range("r/", "r0").await, "r/a=1;r/b=2;r/c=3;");
    assert_eq!(range("r/b", "").await, "r/b=2;r/c=3;s=4;");
    assert_eq!(range("r/c", "r/a").await, "");
}

#[tokio::test]
async fn fixed_clock_gives_reproducible_ids_and_timestamps() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (l1, l2) = (open(d1.path()), open(d2.path()));
    assert_eq!(l1.genesis_hash(), l2.genesis_hash());
    for i in 0..3 {
        let a = l1.submit(p("now", &[])).await.unwrap();
        let b = l2.submit(p("now", &[])).await.unwrap();
        assert_eq!(a, b, "same clock, same proposals: same ids and payloads");
        let now = text(a.payload);
        assert!(
            now.ends_with(&a.tx_id),
            "the contract sees its tx id: {now}"
        );
        let tx = &l1.block(a.block).unwrap().transactions[0];
        let seen = format!("{}.{:09}", tx.timestamp.seconds, tx.timestamp.nanos);
        assert!(
            now.starts_with(&seen),
            "tx_timestamp is the stored one: {now} vs {seen}"
        );
        assert!(i == 0 || tx.timestamp > common::T0);
    }
}

#[tokio::test]
async fn matches_the_in_memory_reference() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path());
    let script = [
        p("put", &["a", "1"]),
        p("incr", &["n"]),
        p("refuse", &["a"]),
        p("put_then_get", &["a", "2"]),
        p("incr", &["n"]),
        p("del", &["a"]),
        p("get", &["a"]),
        p("put", &["b", "3"]),
        p("range", &["", ""]),
        p("history", &["a"]),
        p("incr", &["b"]),
    ];
    let mut reference = MemoryState::new();
    for proposal in script {
        let got = ledger.submit(proposal.clone()).await;
        // Re-run on the reference with the id and time the ledger assigned.
        match got {
            Ok(c) => {
                let tx = ledger.block(c.block).unwrap().transactions.remove(0);
                let want = reference
                    .execute(
                        &KvContract,
                        &tx.tx_id,
                        tx.timestamp,
                        &proposal.function,
                        &proposal.args,
                    )
                    .unwrap();
                assert_eq!(c.payload, want.payload, "{}", proposal.function);
                assert_eq!(tx.event, want.event);
            }
            Err(LedgerError::Refused { code, .. }) => {
                let t = common::T0;
                let want =
                    reference.execute(&KvContract, "x", t, &proposal.function, &proposal.args);
                assert_eq!(want.unwrap_err().code, code);
            }
            Err(e) => panic!("{e}"),
        }
    }
    let range = text(ledger.evaluate(p("range", &["", ""])).await.unwrap());
    let mut want = String::new();
    for (k, v) in reference.entries() {
        want += &format!("{k}={};", String::from_utf8_lossy(v));
    }
    assert_eq!(range, want);
    drop(ledger);
    let report = verify(dir.path(), &KvContract).unwrap();
    assert_eq!(report.state_keys, 2);
}

#[tokio::test]
async fn reopen_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let ledger = open(dir.path());
        ledger.submit(p("put", &["a", "1"])).await.unwrap();
        ledger.genesis_hash()
    };
    let ledger = EmbeddedLedger::open(dir.path(), Arc::new(KvContract), options()).unwrap();
    assert_eq!(ledger.genesis_hash(), first);
    let c = ledger.submit(p("put", &["a", "2"])).await.unwrap();
    assert_eq!((c.block, text(c.payload)), (2, "1".to_string()));
    ledger.close();
    let report = verify(dir.path(), &KvContract).unwrap();
    assert_eq!((report.blocks, report.transactions), (3, 2));
}

/// What a bounded range read answers, on the embedded ledger and on the
/// in-memory reference state (the two stubs over the shared buffered stub).
#[tokio::test]
async fn bounded_range_reads_return_exactly_the_limit_and_the_next_bookmark() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(dir.path());
    let mut reference = MemoryState::new();
    let t = carechain_chaincode::Timestamp::default();
    for k in ["r/a", "r/b", "r/c", "r/d", "r/e", "s"] {
        ledger.submit(p("put", &[k, "v"])).await.unwrap();
        let args = [k.as_bytes().to_vec(), b"v".to_vec()];
        reference.execute(&KvContract, k, t, "put", &args).unwrap();
    }
    let cases: [(&str, &[&str], &str); 8] = [
        ("range_limited", &["r/", "r0", "2"], "r/a;r/b;"),
        ("range_limited", &["r/", "r0", "9"], "r/a;r/b;r/c;r/d;r/e;"),
        ("range_limited", &["r/", "", "6"], "r/a;r/b;r/c;r/d;r/e;s;"),
        // A page of exactly `page size` rows, and where the next one starts.
        ("page", &["r/", "r0", "2", ""], "r/a;r/b;next=r/c"),
        ("page", &["r/", "r0", "2", "r/c"], "r/c;r/d;next=r/e"),
        ("page", &["r/", "r0", "2", "r/e"], "r/e;next="),
        // Exactly full and last: no bookmark.
        ("page", &["r/", "r0", "5", ""], "r/a;r/b;r/c;r/d;r/e;next="),
        ("page", &["r/", "", "5", ""], "r/a;r/b;r/c;r/d;r/e;next=s"),
    ];
    for (function, args, want) in cases {
        let got = text(ledger.evaluate(p(function, args)).await.unwrap());
        assert_eq!(got, want, "embedded {function} {args:?}");
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let got = text(reference.query(&KvContract, t, function, &args).unwrap());
        assert_eq!(got, want, "memory {function} {args:?}");
    }
    // As Fabric's simulator: a paginated query after a write is refused.
    let refused = ledger.submit(p("put_then_page", &["w"])).await.unwrap_err();
    assert!(
        matches!(&refused, LedgerError::Refused { code, message, .. }
            if code == "stub" && message.contains("read-only transaction")),
        "{refused:?}"
    );
    let args = [b"w".to_vec()];
    let refused = reference.execute(&KvContract, "w", t, "put_then_page", &args);
    assert!(
        refused
            .unwrap_err()
            .message
            .contains("read-only transaction")
    );
}
