//! Submit throughput and latency of the embedded ledger at 1, 8 and 64
//! concurrent submitters.
//!
//! Generic over the contract and a closure that makes each submitter's next
//! proposal; these are stand-in workloads (no crypto) that show the ledger's
//! own costs. The real contract (grants, claims) is in `benches/contract.rs`.
//!
//! Run: `cargo bench -p carechain-ledger --bench submit`; `BENCH_SECS` sets
//! the seconds per measurement (default 5), `BENCH_DIR` where ledgers live,
//! `BENCH_WORKERS` the execution pool size (0: every transaction executes
//! serially on the writer, as before parallel execution).
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use carechain_chaincode::Chaincode;
use carechain_ledger::{EmbeddedLedger, EmbeddedOptions, Ledger, Proposal};

/// The tests' key-value contract: `put k v` reads `k`, writes it, emits an
/// event; `incr k` bumps a shared counter (every transaction conflicts).
#[path = "../tests/common/mod.rs"]
mod common;
use common::KvContract;

/// Makes proposal number `i` of submitter `s`.
type MakeProposal = Arc<dyn Fn(usize, u64) -> Proposal + Send + Sync>;

/// One thing to measure.
struct Workload {
    name: &'static str,
    chaincode: Arc<dyn Chaincode>,
    /// Submitted (serially, untimed) before the measurement.
    setup: Vec<Proposal>,
    make: MakeProposal,
}

fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "put (own key, 200 B value, one event)",
            chaincode: Arc::new(KvContract),
            setup: Vec::new(),
            make: Arc::new(|s, i| {
                Proposal::new(
                    "put",
                    [format!("s{s}/{}", i % 100).into_bytes(), vec![b'v'; 200]],
                )
            }),
        },
        Workload {
            name: "incr (one shared counter)",
            chaincode: Arc::new(KvContract),
            setup: Vec::new(),
            make: Arc::new(|_, _| Proposal::new("incr", [b"counter".to_vec()])),
        },
    ]
}

struct Run {
    txs: usize,
    blocks: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

async fn measure(w: &Workload, submitters: usize, secs: f64) -> Run {
    let base = std::env::var_os("BENCH_DIR").unwrap_or_else(|| ".".into());
    let dir = tempfile::tempdir_in(base).unwrap();
    let mut options = EmbeddedOptions::default();
    if let Some(n) = std::env::var("BENCH_WORKERS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        options.workers = n;
    }
    let ledger = EmbeddedLedger::open(dir.path(), w.chaincode.clone(), options).unwrap();
    for p in &w.setup {
        ledger.submit(p.clone()).await.unwrap();
    }
    let ledger: Arc<dyn Ledger> = Arc::new(ledger);
    let start_height = ledger.height().await.unwrap();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..submitters)
        .map(|s| {
            let (ledger, make) = (ledger.clone(), w.make.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    ledger.submit(make(s, i)).await.unwrap();
                    latencies.push(t.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = futures::future::try_join_all(tasks).await.unwrap().concat();
    let elapsed = started.elapsed();
    let blocks = ledger.height().await.unwrap() - start_height;
    latencies.sort();
    Run {
        txs: latencies.len(),
        blocks,
        elapsed,
        latencies,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    println!("| workload | submitters | tx/s | p50 ms | p99 ms | txs per block |");
    println!("|---|---|---|---|---|---|");
    for w in workloads() {
        for submitters in [1, 8, 64] {
            let run = rt.block_on(measure(&w, submitters, secs));
            let at = |q: f64| run.latencies[((run.txs - 1) as f64 * q).round() as usize];
            println!(
                "| {} | {submitters} | {:.0} | {:.2} | {:.2} | {:.1} |",
                w.name,
                run.txs as f64 / run.elapsed.as_secs_f64(),
                ms(at(0.5)),
                ms(at(0.99)),
                run.txs as f64 / run.blocks as f64,
            );
        }
    }
}
