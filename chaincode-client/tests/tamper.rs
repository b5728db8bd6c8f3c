//! Tampering: flipping a byte of any stored block, state, history or event row
//! makes `verify` fail and name the block (or the key) where it happened.
#![allow(clippy::unwrap_used)] // Test helpers outside #[test] functions.

mod common;

use carechain_ledger::{LedgerError, verify};
use common::{KvContract, open, p};
use rusqlite::Connection;
use rusqlite::types::Value;

/// The tables, their primary-key columns, and what `verify` names for a row.
const TABLES: [(&str, &[&str]); 4] = [
    ("blocks", &["number"]),
    ("state", &["key"]),
    ("history", &["key", "block", "tx"]),
    ("events", &["block", "tx"]),
];

async fn build(dir: &std::path::Path) {
    let ledger = open(dir);
    for (f, args) in [
        ("put", vec!["a", "1"]),
        ("put", vec!["b", "2"]),
        ("incr", vec!["n"]),
        ("put", vec!["a", "3"]),
        ("refuse", vec!["a"]),
        ("del", vec!["b"]),
        ("incr", vec!["n"]),
        ("put", vec!["c", "long value to flip in the middle"]),
    ] {
        let _ = carechain_ledger::Ledger::submit(&ledger, p(f, &args)).await;
    }
    ledger.close();
}

/// Byte flips of one cell: xor one byte of text/blob (at start, middle, end),
/// or the second byte of an integer (xor 0x100, which rarely collides with
/// another row's key).
fn flips(v: &Value) -> Vec<Value> {
    match v {
        Value::Integer(i) => vec![Value::Integer(i ^ 0x100)],
        Value::Text(s) => positions(s.len())
            .filter_map(|at| {
                let mut b = s.clone().into_bytes();
                b[at] ^= 0x01;
                String::from_utf8(b).ok().map(Value::Text)
            })
            .collect(),
        Value::Blob(b) => positions(b.len())
            .map(|at| {
                let mut b = b.clone();
                b[at] ^= 0x01;
                Value::Blob(b)
            })
            .collect(),
        Value::Null | Value::Real(_) => Vec::new(),
    }
}

fn positions(len: usize) -> impl Iterator<Item = usize> {
    let mut v = if len == 0 {
        vec![]
    } else {
        vec![0, len / 2, len - 1]
    };
    v.dedup();
    v.into_iter()
}

fn render(v: &Value) -> String {
    match v {
        Value::Integer(i) => i.to_string(),
        Value::Text(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn flipping_any_sampled_byte_makes_verify_fail_and_name_where() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    let clean = verify(dir.path(), &KvContract).unwrap();
    assert!(clean.transactions >= 7);
    let db = Connection::open(dir.path().join("ledger.sqlite")).unwrap();
    let mut checked = 0;
    for (table, pk) in TABLES {
        let mut stmt = db.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let rows: Vec<Vec<Value>> = stmt
            .query_map([], |r| (0..columns.len()).map(|i| r.get(i)).collect())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!rows.is_empty(), "{table} is empty");
        for row in &rows {
            let where_clause: Vec<String> = pk
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = ?{}", i + 2))
                .collect();
            let pk_index = |c: &str| columns.iter().position(|x| x == c).unwrap();
            for (ci, column) in columns.iter().enumerate() {
                for flipped in flips(&row[ci]) {
                    let update = format!(
                        "UPDATE {table} SET {column} = ?1 WHERE {}",
                        where_clause.join(" AND ")
                    );
                    let mut params: Vec<Value> = vec![flipped.clone()];
                    params.extend(pk.iter().map(|c| row[pk_index(c)].clone()));
                    if db
                        .execute(&update, rusqlite::params_from_iter(&params))
                        .is_err()
                    {
                        continue; // Collides with another row's key.
                    }
                    let err = verify(dir.path(), &KvContract).expect_err(&format!(
                        "flipping {table}.{column} of {row:?} went unnoticed"
                    ));
                    // Restore: the flipped row is now found by its new key if the key changed.
                    let mut restore_params: Vec<Value> = vec![row[ci].clone()];
                    restore_params.extend(pk.iter().map(|c| {
                        if *c == column.as_str() {
                            flipped.clone()
                        } else {
                            row[pk_index(c)].clone()
                        }
                    }));
                    let restore = format!(
                        "UPDATE {table} SET {column} = ?1 WHERE {}",
                        where_clause.join(" AND ")
                    );
                    assert_eq!(
                        db.execute(&restore, rusqlite::params_from_iter(&restore_params))
                            .unwrap(),
                        1
                    );

                    let first = render(&row[0]);
                    let names =
                        |named: &str| named == first || (ci == 0 && named == render(&flipped));
                    match (&err, table) {
                        (LedgerError::Corrupt { block, .. }, "blocks") => {
                            assert_eq!(block.to_string(), first, "{table}.{column}: {err}");
                        }
                        (LedgerError::CorruptState { table: t, key, .. }, _) => {
                            assert_eq!(*t, table, "{err}");
                            assert!(
                                names(key),
                                "{table}.{column} of {row:?}: named {key}: {err}"
                            );
                        }
                        _ => panic!("{table}.{column}: unexpected error {err}"),
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} flips checked");
    assert_eq!(verify(dir.path(), &KvContract).unwrap(), clean, "restored");
}

#[tokio::test]
async fn verify_names_the_first_block_with_a_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    let db = Connection::open(dir.path().join("ledger.sqlite")).unwrap();
    // Re-hash block 3 consistently after changing its timestamp: its own
    // hashes check out, but block 4's previous-hash link breaks.
    let ledger = open(dir.path());
    let mut header = ledger.block(3).unwrap().header;
    ledger.close();
    header.timestamp.seconds += 1;
    db.execute(
        "UPDATE blocks SET ts_seconds = ?1, hash = ?2 WHERE number = 3",
        rusqlite::params![header.timestamp.seconds, header.hash()],
    )
    .unwrap();
    match verify(dir.path(), &KvContract) {
        Err(LedgerError::Corrupt { block: 4, what }) => {
            assert!(what.contains("previous hash"), "{what}")
        }
        other => panic!("expected block 4 to be named, got {other:?}"),
    }
}

/// The test contract except that `incr` adds two: a replay that diverges.
struct Diverging;

impl carechain_chaincode::Chaincode for Diverging {
    fn invoke(
        &self,
        stub: &mut dyn carechain_chaincode::Stub,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, carechain_chaincode::ChaincodeError> {
        if function == "incr" {
            KvContract.invoke(stub, "put", &[args[0].clone(), b"2".to_vec()])
        } else {
            KvContract.invoke(stub, function, args)
        }
    }
}

#[tokio::test]
async fn verify_names_the_first_block_whose_replay_differs() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
    // Blocks: 1 put a, 2 put b, 3 incr n, ...
    match verify(dir.path(), &Diverging) {
        Err(LedgerError::Corrupt { block: 3, what }) => {
            assert!(
                what.contains("transaction 0") && what.contains("payload"),
                "{what}"
            );
        }
        other => panic!("expected block 3 to be named, got {other:?}"),
    }
}
