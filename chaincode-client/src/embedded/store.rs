//! The SQLite store: schema, connection set-up, and every query the ledger runs.
//!
//! Tables: `blocks` (header columns, the header hash, the encoded body),
//! `state` (key → value and version = block, tx index), `history` (every
//! write of every key, for `get_history_for_key`), `txs` (the first 8 bytes
//! of a transaction id → block and position, for `Ledger::transaction`:
//! transaction ids are hashes, so the position cannot be computed from the
//! id) and `events` (one row per
//! event, indexed by block for resumable subscriptions). `state`, `history`,
//! `txs` and `events` are derived from `blocks` and `verify` recomputes them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use carechain_chaincode::{KeyModification, Timestamp};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::block::{Block, BlockHeader, Hash, Transaction, decode_body, encode_body};
use crate::{ChaincodeEvent, LedgerError};

/// The database file inside the ledger directory.
pub(crate) const FILE: &str = "ledger.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY,
    previous_hash BLOB NOT NULL,
    data_hash BLOB NOT NULL,
    ts_seconds INTEGER NOT NULL,
    ts_nanos INTEGER NOT NULL,
    hash BLOB NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    block INTEGER NOT NULL,
    tx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    key TEXT NOT NULL,
    block INTEGER NOT NULL,
    tx INTEGER NOT NULL,
    tx_id TEXT NOT NULL,
    ts_seconds INTEGER NOT NULL,
    ts_nanos INTEGER NOT NULL,
    value BLOB NOT NULL,
    is_delete INTEGER NOT NULL,
    PRIMARY KEY (key, block, tx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS txs (
    prefix INTEGER NOT NULL,
    block INTEGER NOT NULL,
    tx INTEGER NOT NULL,
    PRIMARY KEY (prefix, block, tx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    block INTEGER NOT NULL,
    tx INTEGER NOT NULL,
    tx_id TEXT NOT NULL,
    name TEXT NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (block, tx)
) WITHOUT ROWID;
";

fn storage(during: &str) -> impl FnOnce(rusqlite::Error) -> LedgerError + '_ {
    move |e| LedgerError::storage(during, e)
}

/// Opens (creating if needed) the ledger database for writing: WAL journal,
/// `synchronous=NORMAL`; the syncer (module `durable`) fsyncs the WAL
/// before anyone is told a block committed.
pub(crate) fn open_writer(dir: &Path) -> Result<Connection, LedgerError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| LedgerError::storage("creating the ledger directory", e))?;
    // Owner-only, with the -wal and -shm SQLite makes beside it.
    carechain_core::wallet::restrict_database(&dir.join(FILE))
        .map_err(|e| LedgerError::storage("creating the ledger database", e))?;
    let conn = Connection::open(dir.join(FILE)).map_err(storage("opening the ledger database"))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(storage("configuring the database"))?;
    // Checkpoints are the checkpointer's (module `checkpoint`); the writer's
    // own is a backstop.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint={};",
        super::checkpoint::WRITER_AUTOCHECKPOINT
    ))
    .map_err(storage("configuring the database"))?;
    init_schema(&conn)?;
    Ok(conn)
}

/// Creates the tables in `conn` if they are missing.
pub(crate) fn init_schema(conn: &Connection) -> Result<(), LedgerError> {
    let had_txs: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'txs')",
            [],
            |r| r.get(0),
        )
        .map_err(storage("reading the schema"))?;
    conn.execute_batch(SCHEMA)
        .map_err(storage("creating the schema"))?;
    if !had_txs {
        // A ledger from before the index: every transaction that wrote a key
        // (which is every one the lookup by written key could find).
        backfill_txs(conn).map_err(storage("indexing the transactions of an older ledger"))?;
    }
    Ok(())
}

fn backfill_txs(conn: &Connection) -> rusqlite::Result<()> {
    let mut select = conn.prepare("SELECT tx_id, block, tx FROM history GROUP BY tx_id")?;
    let rows = select.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut insert =
        conn.prepare("INSERT OR IGNORE INTO txs (prefix, block, tx) VALUES (?1, ?2, ?3)")?;
    for row in rows {
        let (tx_id, block, tx) = row?;
        if let Some(prefix) = tx_prefix(&tx_id) {
            insert.execute(params![prefix, block, tx])?;
        }
    }
    Ok(())
}

/// The `txs` key of a transaction id: its first 8 bytes as an integer.
/// Ids are SHA-256 hex, so the key is as good as random and rarely shared;
/// a lookup checks the candidates' full ids in their blocks. An integer key
/// keeps the index rows small (about a quarter of the id as text), which is
/// what the write path pays for.
pub(crate) fn tx_prefix(tx_id: &str) -> Option<i64> {
    let head = tx_id.get(..16)?;
    u64::from_str_radix(head, 16)
        .ok()
        .map(|v| i64::from_ne_bytes(v.to_ne_bytes()))
}

/// A pool of read-only connections; WAL lets them read while the writer commits.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            path: dir.join(FILE),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on an idle connection (opening one if none is idle).
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, LedgerError>,
    ) -> Result<R, LedgerError> {
        let idle = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
        let mut conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let out = f(&mut conn);
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        out
    }
}

/// Opens a read-only connection to the database at `path`.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, LedgerError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn =
        Connection::open_with_flags(path, flags).map_err(storage("opening a read connection"))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(storage("configuring a read connection"))?;
    Ok(conn)
}

/// The value at `key`.
pub(crate) fn get(conn: &Connection, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT value FROM state WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()
}

/// The first `limit` keys in `[start, end)` (unbounded above when `end` is
/// empty), in byte order.
pub(crate) fn range(
    conn: &Connection,
    start: &str,
    end: &str,
    limit: usize,
) -> rusqlite::Result<Vec<(String, Vec<u8>)>> {
    // SQLite's LIMIT is an i64; a negative one means none.
    let limit = i64::try_from(limit).unwrap_or(-1);
    // TEXT compares with memcmp (BINARY collation): UTF-8 byte order, as Fabric.
    // Two statements, not `(?2 = '' OR key < ?2)`: with the OR the planner
    // cannot use the upper bound and scans from `start` to the end of the
    // table (a grant's scan of the patient's records read every request).
    if end.is_empty() {
        let mut stmt = conn
            .prepare_cached("SELECT key, value FROM state WHERE key >= ?1 ORDER BY key LIMIT ?2")?;
        let rows = stmt.query_map(rusqlite::params![start, limit], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        return rows.collect();
    }
    let mut stmt = conn.prepare_cached(
        "SELECT key, value FROM state WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3",
    )?;
    let rows = stmt.query_map(rusqlite::params![start, end, limit], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    rows.collect()
}

/// Every committed write of `key`, oldest first.
pub(crate) fn history(conn: &Connection, key: &str) -> rusqlite::Result<Vec<KeyModification>> {
    let mut stmt = conn.prepare_cached(
        "SELECT tx_id, ts_seconds, ts_nanos, value, is_delete FROM history
         WHERE key = ?1 ORDER BY block, tx",
    )?;
    let rows = stmt.query_map([key], |r| {
        Ok(KeyModification {
            tx_id: r.get(0)?,
            timestamp: timestamp_at(r, 1)?,
            value: r.get(3)?,
            is_delete: r.get(4)?,
        })
    })?;
    rows.collect()
}

/// Applies committed transaction `index` of block `block`: state, history, event.
pub(crate) fn apply_tx(
    conn: &Connection,
    block: u64,
    index: u32,
    tx: &Transaction,
) -> rusqlite::Result<()> {
    let mut put = conn.prepare_cached(
        "INSERT INTO state (key, value, block, tx) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, block = excluded.block, tx = excluded.tx",
    )?;
    let mut del = conn.prepare_cached("DELETE FROM state WHERE key = ?1")?;
    let mut hist = conn.prepare_cached(
        "INSERT INTO history (key, block, tx, tx_id, ts_seconds, ts_nanos, value, is_delete)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    if let Some(prefix) = tx_prefix(&tx.tx_id) {
        conn.prepare_cached("INSERT INTO txs (prefix, block, tx) VALUES (?1, ?2, ?3)")?
            .execute(params![prefix, block, index])?;
    }
    let ts = tx.timestamp;
    for w in &tx.writes {
        match &w.value {
            Some(v) => put.execute(params![w.key, v, block, index])?,
            None => del.execute([&w.key])?,
        };
        let value: &[u8] = w.value.as_deref().unwrap_or_default();
        hist.execute(params![
            w.key,
            block,
            index,
            tx.tx_id,
            ts.seconds,
            ts.nanos,
            value,
            w.value.is_none()
        ])?;
    }
    if let Some((name, payload)) = &tx.event {
        conn.prepare_cached(
            "INSERT INTO events (block, tx, tx_id, name, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![block, index, tx.tx_id, name, payload])?;
    }
    Ok(())
}

/// Appends a block (header, its hash and the encoded body).
pub(crate) fn insert_block(
    conn: &Connection,
    header: &BlockHeader,
    txs: &[Transaction],
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO blocks (number, previous_hash, data_hash, ts_seconds, ts_nanos, hash, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        header.number,
        header.previous_hash,
        header.data_hash,
        header.timestamp.seconds,
        header.timestamp.nanos,
        header.hash(),
        encode_body(txs),
    ])?;
    Ok(())
}

/// A stored block row, undecoded.
pub(crate) struct BlockRow {
    pub(crate) number: u64,
    pub(crate) previous_hash: Vec<u8>,
    pub(crate) data_hash: Vec<u8>,
    pub(crate) timestamp: Timestamp,
    pub(crate) hash: Vec<u8>,
    pub(crate) body: Vec<u8>,
}

pub(crate) const BLOCK_COLUMNS: &str =
    "number, previous_hash, data_hash, ts_seconds, ts_nanos, hash, body";

/// Reads the `Timestamp` stored as seconds in column `at`, nanos in `at + 1`.
fn timestamp_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Timestamp> {
    Ok(Timestamp {
        seconds: r.get(at)?,
        nanos: r.get(at + 1)?,
    })
}

/// Reads a row selected with [`BLOCK_COLUMNS`].
pub(crate) fn block_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BlockRow> {
    Ok(BlockRow {
        number: r.get(0)?,
        previous_hash: r.get(1)?,
        data_hash: r.get(2)?,
        timestamp: timestamp_at(r, 3)?,
        hash: r.get(5)?,
        body: r.get(6)?,
    })
}

impl BlockRow {
    /// Decodes the row, checking the stored hashes against the header and body.
    pub(crate) fn decode(self) -> Result<Block, LedgerError> {
        let corrupt = |what: String| LedgerError::Corrupt {
            block: self.number,
            what,
        };
        let hash32 = |name: &str, v: &[u8]| -> Result<Hash, LedgerError> {
            v.try_into().map_err(|_| {
                corrupt(format!(
                    "expected a 32-byte {name}, found {} bytes",
                    v.len()
                ))
            })
        };
        let header = BlockHeader {
            number: self.number,
            previous_hash: hash32("previous hash", &self.previous_hash)?,
            data_hash: hash32("data hash", &self.data_hash)?,
            timestamp: self.timestamp,
        };
        let stored_hash = hash32("block hash", &self.hash)?;
        if header.hash() != stored_hash {
            return Err(corrupt(format!(
                "expected stored hash {} (computed from the header), found {}",
                hex::encode(header.hash()),
                hex::encode(stored_hash)
            )));
        }
        let transactions =
            decode_body(&self.body).map_err(|e| corrupt(format!("body does not decode: {e}")))?;
        let computed = super::block::data_hash(&transactions);
        if computed != header.data_hash {
            return Err(corrupt(format!(
                "expected data hash {} (computed from the body), found {} in the header",
                hex::encode(computed),
                hex::encode(header.data_hash)
            )));
        }
        Ok(Block {
            header,
            transactions,
        })
    }
}

/// Block `n`, checked against its stored hashes.
pub(crate) fn block(conn: &Connection, n: u64) -> Result<Option<Block>, LedgerError> {
    let during = format!("reading block {n}");
    let row = conn
        .prepare_cached(&format!(
            "SELECT {BLOCK_COLUMNS} FROM blocks WHERE number = ?1"
        ))
        .and_then(|mut s| s.query_row([n], block_row).optional())
        .map_err(|e| LedgerError::storage(during, e))?;
    row.map(BlockRow::decode).transpose()
}

/// The last block's number, if any block exists.
pub(crate) fn last_block(conn: &Connection) -> Result<Option<u64>, LedgerError> {
    conn.query_row("SELECT MAX(number) FROM blocks", [], |r| r.get(0))
        .map_err(storage("reading the chain height"))
}

/// Events of blocks in `[from, to)`, in block and transaction order.
pub(crate) fn events(
    conn: &Connection,
    from: u64,
    to: u64,
) -> Result<Vec<ChaincodeEvent>, LedgerError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT block, tx_id, name, payload FROM events
             WHERE block >= ?1 AND block < ?2 ORDER BY block, tx",
        )
        .map_err(storage("reading events"))?;
    let rows = stmt
        .query_map([from, to], |r| {
            Ok(ChaincodeEvent {
                block: r.get(0)?,
                tx_id: r.get(1)?,
                name: r.get(2)?,
                payload: r.get(3)?,
            })
        })
        .map_err(storage("reading events"))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(storage("reading events"))
}
