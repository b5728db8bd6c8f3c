//! Storage choice for the embedded ledger: SQLite (WAL, `synchronous=FULL`)
//! against redb (durable commits), on the shapes the ledger writes and reads.
//!
//! - block commit: one durable storage transaction holding N state upserts,
//!   N history rows and one block blob (what one group commit writes);
//! - point read: a state lookup by key among 10 000 keys (what `get_state` does).
//!
//! Run: `cargo bench -p carechain-ledger --bench store_choice`.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use redb::TableDefinition;

const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");
const HISTORY: TableDefinition<(&str, u64, u32), &[u8]> = TableDefinition::new("history");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");

const VALUE: [u8; 200] = [7; 200];
const KEYS: usize = 10_000;

trait Store {
    fn commit_block(&mut self, block: u64, keys: &[String]);
    fn read(&mut self, key: &str) -> usize;
}

struct Sqlite(rusqlite::Connection);

impl Sqlite {
    fn open(dir: &Path, name: &str, autocheckpoint: u32) -> Self {
        let conn = rusqlite::Connection::open(dir.join(name)).unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", autocheckpoint)
            .unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB NOT NULL, block INTEGER, tx INTEGER) WITHOUT ROWID;
             CREATE TABLE history (key TEXT, block INTEGER, tx INTEGER, value BLOB, PRIMARY KEY (key, block, tx)) WITHOUT ROWID;
             CREATE TABLE blocks (number INTEGER PRIMARY KEY, body BLOB NOT NULL);",
        )
        .unwrap();
        Self(conn)
    }
}

impl Store for Sqlite {
    fn commit_block(&mut self, block: u64, keys: &[String]) {
        let tx = self.0.transaction().unwrap();
        {
            let mut put = tx
                .prepare_cached("INSERT OR REPLACE INTO state VALUES (?1, ?2, ?3, ?4)")
                .unwrap();
            let mut hist = tx
                .prepare_cached("INSERT INTO history VALUES (?1, ?2, ?3, ?4)")
                .unwrap();
            for (i, key) in keys.iter().enumerate() {
                put.execute(rusqlite::params![key, &VALUE[..], block, i])
                    .unwrap();
                hist.execute(rusqlite::params![key, block, i, &VALUE[..]])
                    .unwrap();
            }
            let body = vec![1u8; 300 * keys.len()];
            tx.execute(
                "INSERT INTO blocks VALUES (?1, ?2)",
                rusqlite::params![block, body],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }

    fn read(&mut self, key: &str) -> usize {
        let mut stmt = self
            .0
            .prepare_cached("SELECT value FROM state WHERE key = ?1")
            .unwrap();
        let value: Vec<u8> = stmt.query_row([key], |row| row.get(0)).unwrap();
        value.len()
    }
}

struct Redb(redb::Database);

impl Redb {
    fn open(dir: &Path) -> Self {
        Self(redb::Database::create(dir.join("bench.redb")).unwrap())
    }
}

impl Store for Redb {
    fn commit_block(&mut self, block: u64, keys: &[String]) {
        let tx = self.0.begin_write().unwrap();
        {
            let mut state = tx.open_table(STATE).unwrap();
            let mut history = tx.open_table(HISTORY).unwrap();
            for (i, key) in keys.iter().enumerate() {
                state.insert(key.as_str(), &VALUE[..]).unwrap();
                history
                    .insert((key.as_str(), block, i as u32), &VALUE[..])
                    .unwrap();
            }
            let body = vec![1u8; 300 * keys.len()];
            tx.open_table(BLOCKS)
                .unwrap()
                .insert(block, body.as_slice())
                .unwrap();
        }
        tx.commit().unwrap();
    }

    fn read(&mut self, key: &str) -> usize {
        let tx = self.0.begin_read().unwrap();
        let table = tx.open_table(STATE).unwrap();
        table.get(key).unwrap().unwrap().value().len()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Commits are interleaved across the stores (one commit each, round after
/// round) so that all of them see the same disk: the fsync cost on a shared
/// machine drifts by 10x within a minute.
fn bench(stores: &mut [(&str, Box<dyn Store>)]) {
    let all: Vec<String> = (0..KEYS).map(|i| format!("key/{i:08}")).collect();
    let mut block = 0;
    // Preload KEYS keys in blocks of 1000 (not timed).
    for chunk in all.chunks(1000) {
        for (_, store) in stores.iter_mut() {
            store.commit_block(block, chunk);
        }
        block += 1;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for n in [1usize, 64, 512] {
        let rounds = if n == 512 { 60 } else { 300 };
        let mut times = vec![Vec::with_capacity(rounds); stores.len()];
        for _ in 0..rounds {
            let keys: Vec<String> = (0..n)
                .map(|_| all[rng.gen_range(0..KEYS)].clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            for (i, (_, store)) in stores.iter_mut().enumerate() {
                let t = Instant::now();
                store.commit_block(block, &keys);
                times[i].push(t.elapsed());
            }
            block += 1;
        }
        for ((name, _), times) in stores.iter().zip(&mut times) {
            let total: Duration = times.iter().sum();
            times.sort();
            println!(
                "| {name} | commit block of {n} writes (fsync) | {:.0} blocks/s | p50 {:.2} ms | p99 {:.2} ms |",
                rounds as f64 / total.as_secs_f64(),
                percentile(times, 0.5).as_secs_f64() * 1e3,
                percentile(times, 0.99).as_secs_f64() * 1e3,
            );
        }
    }
    for (name, store) in stores.iter_mut() {
        let reads = 50_000;
        let mut times = Vec::with_capacity(reads);
        let mut bytes = 0;
        for _ in 0..reads {
            let key = &all[rng.gen_range(0..KEYS)];
            let t = Instant::now();
            bytes += store.read(key);
            times.push(t.elapsed());
        }
        let total: Duration = times.iter().sum();
        assert_eq!(bytes, reads * VALUE.len());
        times.sort();
        println!(
            "| {name} | point read among {KEYS} keys | {:.0} reads/s | p50 {:.1} µs | p99 {:.1} µs |",
            reads as f64 / total.as_secs_f64(),
            percentile(&times, 0.5).as_secs_f64() * 1e6,
            percentile(&times, 0.99).as_secs_f64() * 1e6,
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let dir =
        tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or_else(|| ".".into())).unwrap();
    println!("| store | operation | throughput | p50 | p99 |");
    println!("|---|---|---|---|---|");
    bench(&mut [
        (
            "SQLite (WAL, synchronous=FULL)",
            Box::new(Sqlite::open(dir.path(), "a.sqlite", 1000)),
        ),
        (
            "SQLite (WAL, synchronous=FULL, wal_autocheckpoint=16384)",
            Box::new(Sqlite::open(dir.path(), "b.sqlite", 16384)),
        ),
        (
            "redb 2 (Durability::Immediate)",
            Box::new(Redb::open(dir.path())),
        ),
    ]);
}
