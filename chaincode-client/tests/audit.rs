//! `Ledger::transactions` through the trait object the relay holds: the
//! audit metadata of every committed transaction of a block range, in commit
//! order, with the signer and action read from the statement's claims, and
//! nothing of the statement's payload; refused submissions are not there.
//! And `Ledger::transaction`: one committed transaction found by id.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use carechain_chaincode::CareChain;
use carechain_core::statement::Statement;
use carechain_core::statement::{Action, Role};
use carechain_ledger::{EmbeddedLedger, EmbeddedOptions, Ledger, Proposal, TxMeta};
use carechain_testkit::ledger::{Embedded, runtime};
use carechain_testkit::{LedgerDriver, World};

/// A runtime, an embedded ledger in a temporary directory (kept alive by
/// the returned guard) and a world on it.
fn world() -> (
    tokio::runtime::Runtime,
    tempfile::TempDir,
    Arc<EmbeddedLedger>,
    World<LedgerDriver>,
) {
    let rt = runtime();
    let e = Embedded::open(EmbeddedOptions::default());
    let c = World::new(e.driver(&rt, false));
    (rt, e.dir, e.ledger, c)
}

#[test]
fn transactions_gives_metadata_of_committed_transactions_by_block_range() {
    let (rt, _dir, embedded, mut c) = world();
    let insurer = c.registered(Role::Insurer);
    c.product(&insurer, &[("I10", 10_000)]);
    // A refused submission (a replayed statement) is in no block.
    let token = c.token_as_admin(Action::RegisterIdentity(insurer.registration()));
    assert!(c.submit_token(&token).is_err());
    assert!(c.submit_token(&token).is_err());

    let ledger: Arc<dyn Ledger> = embedded.clone();
    let height = rt.block_on(ledger.height()).unwrap();
    assert_eq!(height, 4, "genesis, init, registration, product");
    let all = rt.block_on(ledger.transactions(0, 100)).unwrap();
    let admin = c.admin.id().to_string();
    let insurer_id = insurer.id().to_string();
    let summary: Vec<(u64, &str, Option<&str>)> = all
        .iter()
        .map(|t| (t.block, t.action.as_str(), t.creator.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "init", Some(admin.as_str())),
            (2, "register_identity", Some(admin.as_str())),
            (3, "publish_product", Some(insurer_id.as_str())),
        ]
    );
    // Ids and times are the stored transactions'; all valid on this backend.
    for meta in &all {
        let block = embedded.block(meta.block).unwrap();
        let tx = &block.transactions[0];
        assert_eq!((&meta.tx_id, meta.timestamp), (&tx.tx_id, tx.timestamp));
        assert!(meta.valid && meta.error_code.is_none(), "{meta:?}");
        // Metadata only: no statement, argument or result bytes.
        let debug = format!("{meta:?}");
        let arg = String::from_utf8_lossy(&tx.args[tx.args.len() - 1]).into_owned();
        assert!(!debug.contains(&arg), "{debug}");
        assert!(!debug.contains("Test cover"), "{debug}");
    }

    // Ranges: clamped to the height, empty past it or when zero blocks are asked.
    let window = rt.block_on(ledger.transactions(2, 1)).unwrap();
    assert_eq!(window, all[1..2].to_vec());
    let tail = rt.block_on(ledger.transactions(2, u64::MAX)).unwrap();
    assert_eq!(tail, all[1..].to_vec());
    assert!(
        rt.block_on(ledger.transactions(height, 10))
            .unwrap()
            .is_empty()
    );
    assert!(rt.block_on(ledger.transactions(1, 0)).unwrap().is_empty());
    assert!(
        rt.block_on(ledger.transactions(0, 1)).unwrap().is_empty(),
        "genesis is empty"
    );
}

/// `Ledger::transaction` finds a committed statement's transaction through
/// the nonce key it wrote, the way the relay answers a retried statement.
#[test]
fn transaction_finds_a_committed_statement_by_its_id() {
    let (rt, _dir, embedded, mut c) = world();
    let ledger: Arc<dyn Ledger> = embedded.clone();
    let tokens: Vec<String> = (0..2)
        .map(|_| {
            let act = Action::RegisterIdentity(c.new_actor(Role::Doctor, None).registration());
            c.token_as_admin(act)
        })
        .collect();
    let proposals: Vec<Proposal> = tokens
        .iter()
        .map(|t| Proposal::new("submit", [t.as_bytes().to_vec()]))
        .collect();
    let committed: Vec<_> = proposals
        .iter()
        .map(|p| rt.block_on(ledger.submit(p.clone())).unwrap())
        .collect();

    for ((token, proposal), committed) in tokens.iter().zip(&proposals).zip(&committed) {
        let claims = Statement::peek(token).unwrap();
        let (iss, jti) = (claims.iss.to_string(), claims.jti.clone());
        let used = c.query("statement", &[&iss, &jti]).unwrap();
        assert_eq!(used["tx_id"], committed.tx_id.as_str());
        let found = rt
            .block_on(ledger.transaction(&committed.tx_id))
            .unwrap()
            .expect("the committed transaction is found");
        assert_eq!(&found.proposal, proposal);
        assert_eq!(&found.committed, committed);
    }
    // An unknown id, and a malformed one: none.
    for tx_id in [&*"0".repeat(64), "not a transaction id"] {
        assert_eq!(rt.block_on(ledger.transaction(tx_id)).unwrap(), None);
    }
}

#[test]
fn describe_reads_only_the_claims_and_falls_back_to_the_function() {
    assert_eq!(
        TxMeta::describe("put", &[b"k".to_vec(), b"v".to_vec()]),
        ("put".to_owned(), None)
    );
    assert_eq!(
        TxMeta::describe("submit", &[b"not a statement".to_vec()]),
        ("submit".to_owned(), None)
    );
    assert_eq!(TxMeta::describe("submit", &[]), ("submit".to_owned(), None));
}

/// A ledger written before the `txs` index existed is indexed when it is
/// opened, from its key history.
#[test]
fn a_ledger_from_before_the_tx_index_is_indexed_at_open() {
    let (rt, dir, embedded, mut c) = world();
    let act = Action::RegisterIdentity(c.new_actor(Role::Doctor, None).registration());
    let token = c.token_as_admin(act);
    let proposal = Proposal::new("submit", [token.into_bytes()]);
    let committed = rt.block_on(embedded.submit(proposal.clone())).unwrap();
    drop(c);
    drop(embedded);
    // As an older version left it: no `txs` table.
    let conn = rusqlite::Connection::open(dir.path().join("ledger.sqlite")).unwrap();
    conn.execute_batch("DROP TABLE txs").unwrap();
    drop(conn);
    let reopened =
        EmbeddedLedger::open(dir.path(), Arc::new(CareChain), EmbeddedOptions::default()).unwrap();
    let found = rt
        .block_on(reopened.transaction(&committed.tx_id))
        .unwrap()
        .expect("found after the backfill");
    assert_eq!(found.proposal, proposal);
    assert_eq!(found.committed, committed);
}
