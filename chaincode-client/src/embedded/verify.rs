//! `verify`: replays the stored chain through the contract and checks it.
//!
//! For every block, in order: its number, its link to the previous block's
//! hash, its stored hash against the header, its data hash against the body,
//! each transaction's id against the deterministic id (from its stored batch
//! position, which must strictly increase within the block), and each
//! transaction's stored result (status, payload, write set, event) against
//! what the contract produces when it is re-run, with the stored id and
//! timestamp, against a fresh in-memory state. Then the stored `state`,
//! `history` and `events` tables must equal the replayed ones row for row.

use std::cmp::Ordering;
use std::path::Path;

use carechain_chaincode::Chaincode;
use rusqlite::Connection;
use rusqlite::types::Value;

use super::block::{Hash, tx_id};
use super::store::{self, BLOCK_COLUMNS};
use super::stub::{Call, execute};
use crate::LedgerError;

/// What a successful [`verify`] checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Blocks checked, genesis included.
    pub blocks: u64,
    /// Transactions replayed.
    pub transactions: u64,
    /// Keys in the world state.
    pub state_keys: u64,
    /// The hash of the last block.
    pub head: Hash,
}

/// Replays the ledger in `dir` through `chaincode` from genesis; on mismatch
/// names the first bad block (or the first bad state, history or event row).
pub fn verify(dir: &Path, chaincode: &dyn Chaincode) -> Result<VerifyReport, LedgerError> {
    let path = dir.join(store::FILE);
    if !path.exists() {
        return Err(LedgerError::Unavailable(format!(
            "expected a ledger database at {}, found none",
            path.display()
        )));
    }
    let mut stored =
        Connection::open(&path).map_err(|e| LedgerError::storage("opening the ledger", e))?;
    // One read transaction: a running writer cannot change what we compare.
    let stored = stored
        .transaction()
        .map_err(|e| LedgerError::storage("starting a read", e))?;
    let mut replay = Connection::open_in_memory()
        .map_err(|e| LedgerError::storage("opening the replay state", e))?;
    store::init_schema(&replay)?;
    let replay_tx = replay
        .transaction()
        .map_err(|e| LedgerError::storage("starting the replay", e))?;

    let mut report = replay_blocks(&stored, &replay_tx, chaincode)?;
    for (table, order, key_columns) in [
        ("state", "key", 1),
        ("history", "key, block, tx", 3),
        ("events", "block, tx", 2),
    ] {
        let rows = compare_table(&stored, &replay_tx, table, order, key_columns)?;
        if table == "state" {
            report.state_keys = rows;
        }
    }
    Ok(report)
}

fn replay_blocks(
    stored: &Connection,
    replay: &Connection,
    chaincode: &dyn Chaincode,
) -> Result<VerifyReport, LedgerError> {
    let read = |e| LedgerError::storage("reading blocks", e);
    let mut stmt = stored
        .prepare(&format!(
            "SELECT {BLOCK_COLUMNS} FROM blocks ORDER BY number"
        ))
        .map_err(read)?;
    let mut rows = stmt.query([]).map_err(read)?;
    let mut expected_number = 0u64;
    let mut previous: Hash = [0; 32];
    let mut genesis: Hash = [0; 32];
    let mut transactions = 0u64;
    while let Some(row) = rows.next().map_err(read)? {
        let n = expected_number;
        let corrupt = |what: String| LedgerError::Corrupt { block: n, what };
        let row = store::block_row(row)
            .map_err(|e| corrupt(format!("expected a well-typed block row, found {e}")))?;
        if row.number != n {
            return Err(corrupt(format!(
                "expected block number {n}, found {}",
                row.number
            )));
        }
        let block = row.decode()?;
        if block.header.previous_hash != previous {
            return Err(corrupt(format!(
                "expected previous hash {} (hash of block {}), found {}",
                hex::encode(previous),
                n.wrapping_sub(1),
                hex::encode(block.header.previous_hash)
            )));
        }
        if n == 0 {
            if !block.transactions.is_empty() {
                return Err(corrupt(format!(
                    "expected an empty genesis block, found {} transactions",
                    block.transactions.len()
                )));
            }
            genesis = block.header.hash();
        }
        let mut last_seq: Option<u32> = None;
        for (i, tx) in block.transactions.iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let bad = |what: String| corrupt(format!("transaction {i} ({}): {what}", tx.tx_id));
            if last_seq.is_some_and(|last| tx.seq <= last) {
                return Err(bad(format!(
                    "expected a batch position after {}, found {}",
                    last_seq.unwrap_or_default(),
                    tx.seq
                )));
            }
            last_seq = Some(tx.seq);
            let id = tx_id(&genesis, n, tx.seq, &tx.function, &tx.args);
            if tx.tx_id != id {
                return Err(bad(format!("expected tx id {id}, found {}", tx.tx_id)));
            }
            if tx.status != 200 {
                return Err(bad(format!("expected status 200, found {}", tx.status)));
            }
            let done = match execute(
                replay,
                chaincode,
                Call::new(&tx.tx_id, tx.timestamp, &tx.function, &tx.args),
            ) {
                Ok(done) => done,
                Err(e) => return Err(bad(format!("expected the replay to commit, found {e}"))),
            };
            if done.payload != tx.payload {
                return Err(bad(format!(
                    "expected payload {} from the replay, found {}",
                    show(&done.payload),
                    show(&tx.payload)
                )));
            }
            if done.writes != tx.writes {
                return Err(bad(format!(
                    "expected write set {:?} from the replay, found {:?}",
                    done.writes, tx.writes
                )));
            }
            if done.event != tx.event {
                return Err(bad(format!(
                    "expected event {:?} from the replay, found {:?}",
                    done.event, tx.event
                )));
            }
            store::apply_tx(replay, n, index, tx)
                .map_err(|e| LedgerError::storage("replaying", e))?;
            transactions += 1;
        }
        previous = block.header.hash();
        expected_number += 1;
    }
    if expected_number == 0 {
        return Err(LedgerError::Corrupt {
            block: 0,
            what: "expected a genesis block, found no blocks".into(),
        });
    }
    Ok(VerifyReport {
        blocks: expected_number,
        transactions,
        state_keys: 0,
        head: previous,
    })
}

/// Compares `table` in both databases row by row in primary-key order; the
/// first `key_columns` columns are the primary key. Returns the row count.
fn compare_table(
    stored: &Connection,
    replay: &Connection,
    table: &'static str,
    order: &str,
    key_columns: usize,
) -> Result<u64, LedgerError> {
    let all = |conn: &Connection| -> Result<Vec<Vec<Value>>, LedgerError> {
        let read = |e| LedgerError::storage(format!("reading {table}"), e);
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .map_err(read)?;
        let width = stmt.column_count();
        let rows = stmt
            .query_map([], |r| (0..width).map(|i| r.get::<_, Value>(i)).collect())
            .map_err(read)?;
        rows.collect::<rusqlite::Result<_>>().map_err(read)
    };
    let (found, expected) = (all(stored)?, all(replay)?);
    let (mut f, mut e) = (found.iter().peekable(), expected.iter().peekable());
    loop {
        let mismatch = |row: &[Value], what: String| LedgerError::CorruptState {
            table,
            key: key_of(row),
            what,
        };
        match (f.peek(), e.peek()) {
            (None, None) => return Ok(found.len() as u64),
            (Some(row), None) => {
                return Err(mismatch(
                    row,
                    format!(
                        "found row {} that the replay does not produce",
                        show_row(row)
                    ),
                ));
            }
            (None, Some(row)) => {
                return Err(mismatch(
                    row,
                    format!("expected row {} from the replay, found none", show_row(row)),
                ));
            }
            (Some(got), Some(want)) => match cmp_keys(&got[..key_columns], &want[..key_columns]) {
                Ordering::Less => {
                    return Err(mismatch(
                        got,
                        format!(
                            "found row {} that the replay does not produce",
                            show_row(got)
                        ),
                    ));
                }
                Ordering::Greater => {
                    return Err(mismatch(
                        want,
                        format!(
                            "expected row {} from the replay, found none",
                            show_row(want)
                        ),
                    ));
                }
                Ordering::Equal if got != want => {
                    return Err(mismatch(
                        got,
                        format!(
                            "expected {} from the replay, found {}",
                            show_row(want),
                            show_row(got)
                        ),
                    ));
                }
                Ordering::Equal => {
                    f.next();
                    e.next();
                }
            },
        }
    }
}

/// SQLite's own ordering: NULL < numbers < text < blob; text and blob by bytes.
fn cmp_keys(a: &[Value], b: &[Value]) -> Ordering {
    fn rank(v: &Value) -> (u8, Option<f64>, &[u8]) {
        match v {
            Value::Null => (0, None, &[]),
            // Keys never hold integers beyond 2^53, where f64 would round.
            Value::Integer(i) => (1, Some(*i as f64), &[]),
            Value::Real(r) => (1, Some(*r), &[]),
            Value::Text(s) => (2, None, s.as_bytes()),
            Value::Blob(b) => (3, None, b),
        }
    }
    for (x, y) in a.iter().zip(b) {
        let (rx, ry) = (rank(x), rank(y));
        let ord =
            rx.0.cmp(&ry.0)
                .then(rx.1.partial_cmp(&ry.1).unwrap_or(Ordering::Equal))
                .then(rx.2.cmp(ry.2));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn key_of(row: &[Value]) -> String {
    match row.first() {
        Some(Value::Text(s)) => s.clone(),
        Some(Value::Integer(i)) => i.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn show(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if s.chars().count() > 80 {
        let head: String = s.chars().take(80).collect();
        format!("{head:?}… ({} bytes)", bytes.len())
    } else {
        format!("{s:?}")
    }
}

fn show_row(row: &[Value]) -> String {
    let cells: Vec<String> = row
        .iter()
        .map(|v| match v {
            Value::Null => "NULL".into(),
            Value::Integer(i) => i.to_string(),
            Value::Real(r) => r.to_string(),
            Value::Text(s) => show(s.as_bytes()),
            Value::Blob(b) => format!("x'{}'", hex::encode(&b[..b.len().min(40)])),
        })
        .collect();
    format!("({})", cells.join(", "))
}
