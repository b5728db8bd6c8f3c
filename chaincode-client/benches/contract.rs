//! Submit throughput and latency of the embedded ledger running the real
//! CareChain contract, at 1, 8 and 64 concurrent submitters, beside the
//! crypto-only limits measured in the same run on 2 threads.
//!
//! Workloads (all statements signed in set-up, so signing is not measured):
//! - `grant`: submitter `s` is patient `s` (64 patients, so no two submitters
//!   touch the same keys); each measured transaction is the patient's grant
//!   of a doctor's access request submitted in set-up;
//! - `claim`: patients with 3072-bit Paillier keys (3 keys, shared) hold an
//!   issued policy and records written under a write grant; each measured
//!   transaction is a claim of a distinct (policy, record) pair whose zero
//!   proof the contract verifies, and every decision must be `approved`.
//!
//! Limits: ECDSA P-256 verifications/s of our statements (`Statement::verify`)
//! and zero-proof verifications/s (`PublicKey::verify_zero`, 3072 bits).
//!
//! Run: `cargo bench -p carechain-ledger --bench contract`; `BENCH_SECS`
//! (default 4) bounds each grant level and each limit measurement, `BENCH_DIR`
//! is where ledgers live, `BENCH_WORKERS` overrides the execution pool size
//! and `BENCH_ONLY=grant` skips the claims.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use carechain_chaincode::CareChain;
use carechain_core::identity::VerifyingKey;
use carechain_core::paillier::SecretKey;
use carechain_core::statement::{
    AccessAction, Action, Grant, RecordCategory, Role, Scope, Statement, VerifyPolicy,
};
use carechain_ledger::{EmbeddedLedger, EmbeddedOptions, Ledger, Proposal, SystemClock};
use carechain_testkit::{AUD, Actor, DAY, LedgerDriver, World};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The contract behind the embedded ledger.
type Care = World<LedgerDriver>;

const LEVELS: [usize; 3] = [1, 8, 64];
/// Grants signed per level (the level stops at the deadline or when they run out).
const GRANTS: [usize; 3] = [6_000, 12_000, 16_000];
/// Claims per level (fixed work: a claim costs ~60 ms of CPU).
const CLAIMS: [usize; 3] = [48, 160, 256];

struct Run {
    txs: usize,
    blocks: u64,
    elapsed: Duration,
    /// CPU time of the whole process (ledger, contract and submitters) during the run.
    cpu: Duration,
    /// Bytes written to files (WAL, checkpoints) during the run.
    written: u64,
    /// Of which the ledger's writer thread (ordering, validation, storage).
    writer_cpu: Duration,
    /// Of which the ledger's execution threads (the contract, signature checks included).
    exec_cpu: Duration,
    latencies: Vec<Duration>,
}

/// CPU time (user + system) in a `/proc/.../stat` file, in clock ticks of
/// 10 ms (the runs last seconds).
fn stat_cpu(path: &std::path::Path) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Bytes this process has passed to `write`-like calls so far (`wchar` in `/proc/self/io`).
fn written_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time this process has used so far.
fn process_cpu() -> Duration {
    stat_cpu("/proc/self/stat".as_ref())
}

/// CPU time used so far by the ledger's writer thread and by its execution threads.
fn ledger_cpu() -> (Duration, Duration) {
    let (mut writer, mut exec) = (Duration::ZERO, Duration::ZERO);
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let cpu = stat_cpu(&task.path().join("stat"));
        if comm.starts_with("ledger-writer") {
            writer += cpu;
        } else if comm.starts_with("ledger-exec-") {
            exec += cpu;
        }
    }
    (writer, exec)
}

impl Run {
    fn rate(&self) -> f64 {
        self.txs as f64 / self.elapsed.as_secs_f64()
    }
    fn cpu_us_per_tx(&self) -> f64 {
        self.per_tx(self.cpu)
    }
    fn per_tx(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e6 / self.txs.max(1) as f64
    }
    fn ms(&self, q: f64) -> f64 {
        let i = ((self.txs - 1) as f64 * q).round() as usize;
        self.latencies[i].as_secs_f64() * 1e3
    }
}

/// Submits each stream from its own task until it runs out or `deadline`;
/// `check` inspects every result payload.
fn run_level(
    rt: &tokio::runtime::Runtime,
    ledger: &Arc<EmbeddedLedger>,
    streams: Vec<Vec<Proposal>>,
    deadline: Duration,
    check: fn(&[u8]),
) -> Run {
    rt.block_on(async {
        let start_height = ledger.height().await.unwrap();
        let cpu_before = process_cpu();
        let (writer_before, exec_before) = ledger_cpu();
        let written_before = written_bytes();
        let started = Instant::now();
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|stream| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(stream.len());
                    for p in stream {
                        if started.elapsed() >= deadline {
                            break;
                        }
                        let t = Instant::now();
                        let c = ledger.submit(p).await.unwrap();
                        latencies.push(t.elapsed());
                        check(&c.payload);
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = futures::future::try_join_all(tasks).await.unwrap().concat();
        let elapsed = started.elapsed();
        let cpu = process_cpu().saturating_sub(cpu_before);
        let (writer_after, exec_after) = ledger_cpu();
        latencies.sort();
        Run {
            txs: latencies.len(),
            blocks: ledger.height().await.unwrap() - start_height,
            elapsed,
            cpu,
            written: written_bytes().saturating_sub(written_before),
            writer_cpu: writer_after.saturating_sub(writer_before),
            exec_cpu: exec_after.saturating_sub(exec_before),
            latencies,
        }
    })
}

/// Submits `tokens` from 64 concurrent tasks (set-up, untimed).
fn submit_all(rt: &tokio::runtime::Runtime, ledger: &Arc<EmbeddedLedger>, tokens: Vec<String>) {
    let streams = split(tokens.into_iter().map(submit).collect(), 64);
    let run = run_level(rt, ledger, streams, Duration::MAX, |_| {});
    assert!(run.txs > 0 || run.latencies.is_empty());
}

fn submit(token: String) -> Proposal {
    Proposal::new("submit", [token.into_bytes()])
}

fn split<T>(items: Vec<T>, n: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        out[i % n].push(item);
    }
    out
}

fn open(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> (Arc<EmbeddedLedger>, Care) {
    let mut options = EmbeddedOptions::default();
    if let Some(n) = std::env::var("BENCH_WORKERS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        options.workers = n;
    }
    let ledger = EmbeddedLedger::open(dir, Arc::new(CareChain), options);
    let ledger = Arc::new(ledger.unwrap());
    let driver = LedgerDriver::on(ledger.clone(), rt.handle().clone(), Arc::new(SystemClock));
    let care = World::new(driver);
    (ledger, care)
}

/// Registers `n` patients concurrently, cycling through `keys`.
fn patients(
    rt: &tokio::runtime::Runtime,
    ledger: &Arc<EmbeddedLedger>,
    care: &mut Care,
    keys: &[Arc<SecretKey>],
    n: usize,
) -> Vec<Actor> {
    let (actors, tokens): (Vec<Actor>, Vec<String>) = (0..n)
        .map(|i| care.new_patient(&keys[i % keys.len()]))
        .unzip();
    submit_all(rt, ledger, tokens);
    actors
}

fn grant_levels(
    rt: &tokio::runtime::Runtime,
    keys: &[Arc<SecretKey>],
    secs: f64,
    dir: &std::path::Path,
) -> (Vec<Run>, Samples, Limit) {
    let (ledger, mut care) = open(rt, dir);
    let doctor = care.registered(Role::Doctor);
    let patients = patients(rt, &ledger, &mut care, keys, 64);
    let all = vec![AccessAction::Read, AccessAction::Write];
    let mut runs = Vec::new();
    let mut samples = Vec::new();
    let mut sig_before = Limit {
        rate: 0.0,
        cpu_us: 0.0,
    };
    for (level, &submitters) in LEVELS.iter().enumerate() {
        let mut requests = Vec::new();
        let mut grants: Vec<Vec<Proposal>> = (0..submitters).map(|_| Vec::new()).collect();
        for i in 0..GRANTS[level] {
            let s = i % submitters;
            let patient = &patients[s];
            let (request, token) = care.request_token(&doctor, patient, all.clone(), Scope::All);
            requests.push(token);
            let grant = Grant {
                request,
                actions: all.clone(),
                scope: Scope::All,
                expires_at: care.now() + DAY,
                keys: Vec::new(),
            };
            let token = care.sign(&patient.key, Action::Grant(grant));
            if samples.len() < 2_000 {
                samples.push((token.clone(), patient.key.verifying_key()));
            }
            grants[s].push(submit(token));
        }
        submit_all(rt, &ledger, requests);
        if level == 0 {
            sig_before = signature_limit(&samples, secs);
        }
        let deadline = Duration::from_secs_f64(secs);
        runs.push(run_level(rt, &ledger, grants, deadline, |p| {
            assert!(p.starts_with(b"{"), "grant result");
        }));
    }
    report_stats("grant", &ledger);
    (runs, samples, sig_before)
}

fn approved(payload: &[u8]) {
    let v: serde_json::Value = serde_json::from_slice(payload).unwrap();
    assert_eq!(v["decision"]["decision"], "approved", "{v}");
}

fn claim_levels(
    rt: &tokio::runtime::Runtime,
    keys: &[Arc<SecretKey>],
    dir: &std::path::Path,
) -> Vec<Run> {
    let (ledger, mut care) = open(rt, dir);
    care.reuse_ciphertexts = true;
    let doctor = care.registered(Role::Doctor);
    let insurer = care.registered(Role::Insurer);
    let patients = patients(rt, &ledger, &mut care, keys, 16);
    let product = care.product(&insurer, &[("E11.9", 50_000)]);
    let mut policies = Vec::new();
    for patient in &patients {
        care.consent(&doctor, patient);
        policies.push(care.policy(&insurer, patient, product));
    }
    // Records written after every policy's start, under the doctor's grant.
    std::thread::sleep(Duration::from_millis(1_100));
    let mut runs = Vec::new();
    for (level, &submitters) in LEVELS.iter().enumerate() {
        let mut writes = Vec::new();
        let mut pending = Vec::new();
        for i in 0..CLAIMS[level] {
            let p = i % patients.len();
            let body = care.record_body(&patients[p], "E11.9", RecordCategory::General);
            pending.push((p, body.record));
            writes.push(care.sign(&doctor.key, Action::WriteRecord(body)));
        }
        submit_all(rt, &ledger, writes);
        let claims = pending
            .into_iter()
            .map(|(p, record)| submit(care.claim_token(&patients[p], policies[p], record, 0)))
            .collect();
        runs.push(run_level(
            rt,
            &ledger,
            split(claims, submitters),
            Duration::MAX,
            approved,
        ));
    }
    report_stats("claim", &ledger);
    runs
}

fn report_stats(name: &str, ledger: &EmbeddedLedger) {
    let s = ledger.execution_stats();
    println!(
        "{name}: {} txs executed in parallel, {} serially ({} re-executed after a conflict), {} batches ran ahead",
        s.parallel, s.serial, s.conflicts, s.ran_ahead
    );
}

/// A crypto-only limit: calls per second on 2 threads, and CPU µs per call.
#[derive(Clone, Copy)]
struct Limit {
    rate: f64,
    cpu_us: f64,
}

/// `f` called in a loop on 2 threads for `secs`.
fn on_two_threads(secs: f64, f: impl Fn(usize) + Sync) -> Limit {
    let count = AtomicU64::new(0);
    let cpu_before = process_cpu();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..2 {
            let (count, f) = (&count, &f);
            scope.spawn(move || {
                let mut i = t;
                while started.elapsed().as_secs_f64() < secs {
                    f(i);
                    i += 2;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let calls = count.load(Ordering::Relaxed) as f64;
    Limit {
        rate: calls / started.elapsed().as_secs_f64(),
        cpu_us: process_cpu().saturating_sub(cpu_before).as_secs_f64() * 1e6 / calls.max(1.0),
    }
}

/// Grant statements and their signers' keys.
type Samples = Vec<(String, VerifyingKey)>;

fn signature_limit(samples: &Samples, secs: f64) -> Limit {
    // The statements' own issue time, not the clock: on a loaded machine the
    // run after the grants can outlast their lifetime, and verification
    // costs the same at any instant of their window.
    let now = samples
        .first()
        .and_then(|(token, _)| Statement::peek(token).ok())
        .map_or_else(
            || carechain_ledger::Clock::now(&SystemClock).seconds,
            |s| s.iat,
        );
    let policy = VerifyPolicy {
        audience: AUD,
        now,
        max_skew_secs: 300,
        max_lifetime_secs: 3600,
    };
    on_two_threads(secs, |i| {
        let (token, key) = &samples[i % samples.len()];
        Statement::verify(token, key, &policy).unwrap();
    })
}

fn zero_limit(keys: &[Arc<SecretKey>], secs: f64) -> Limit {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let cases: Vec<_> = keys
        .iter()
        .map(|sk| {
            let c = sk.public_key().encrypt(0, &mut rng);
            let proof = sk.prove_zero(&c).unwrap();
            (sk.public_key().clone(), c, proof)
        })
        .collect();
    on_two_threads(secs, |i| {
        let (pk, c, proof) = &cases[i % cases.len()];
        pk.verify_zero(c, proof).unwrap();
    })
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let base = std::env::var_os("BENCH_DIR").unwrap_or_else(|| ".".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let t = Instant::now();
    let mut rng = ChaCha20Rng::seed_from_u64(3072);
    let keys: Vec<Arc<SecretKey>> = (0..3)
        .map(|_| Arc::new(SecretKey::generate(3072, &mut rng).unwrap()))
        .collect();
    println!(
        "3 Paillier keys (3072 bits) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir_in(&base).unwrap();
    // Each limit is measured just before and just after its workload (the
    // machine is shared; the ratios use the mean of the two).
    let (grants, samples, sig_before) = grant_levels(&rt, &keys, secs, &dir.path().join("grant"));
    let sig_after = signature_limit(&samples, secs);
    let zero_before = zero_limit(&keys, secs);
    // `BENCH_ONLY=grant` skips the claims (for profiling).
    let claims = if std::env::var("BENCH_ONLY").is_ok_and(|s| s == "grant") {
        Vec::new()
    } else {
        claim_levels(&rt, &keys, &dir.path().join("claim"))
    };

    let zero_after = zero_limit(&keys, secs);
    let sig = (sig_before.rate + sig_after.rate) / 2.0;
    let zero = (zero_before.rate + zero_after.rate) / 2.0;
    let sig_cpu = (sig_before.cpu_us + sig_after.cpu_us) / 2.0;
    let zero_cpu = (zero_before.cpu_us + zero_after.cpu_us) / 2.0;

    println!();
    println!(
        "crypto-only limits, 2 threads: {sig:.0} ECDSA P-256 statement verifications/s \
         (before/after the grants: {:.0}/{:.0}; {sig_cpu:.0} µs CPU each), {zero:.1} zero-proof \
         verifications/s at 3072 bits (before/after the claims: {:.1}/{:.1}; {zero_cpu:.0} µs CPU each)",
        sig_before.rate, sig_after.rate, zero_before.rate, zero_after.rate
    );
    println!();
    println!(
        "| workload | submitters | tx/s | p50 ms | p99 ms | txs/block | CPU µs/tx (writer + exec + rest) | KiB written/tx | tx/s ÷ limit | limit CPU ÷ tx CPU | target |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, runs, limit, limit_cpu, target) in [
        ("grant", &grants, sig, sig_cpu, "≥ 50%"),
        ("claim", &claims, zero, zero_cpu, "≥ 70%"),
    ] {
        for (run, submitters) in runs.iter().zip(LEVELS) {
            println!(
                "| {name} | {submitters} | {:.1} | {:.2} | {:.2} | {:.1} | {:.0} ({:.0} + {:.0} + {:.0}) | {:.1} | {:.0}% | {:.0}% | {target} |",
                run.rate(),
                run.ms(0.5),
                run.ms(0.99),
                run.txs as f64 / run.blocks.max(1) as f64,
                run.cpu_us_per_tx(),
                run.per_tx(run.writer_cpu),
                run.per_tx(run.exec_cpu),
                run.per_tx(run.cpu.saturating_sub(run.writer_cpu + run.exec_cpu)),
                run.written as f64 / 1024.0 / run.txs.max(1) as f64,
                100.0 * run.rate() / limit,
                100.0 * limit_cpu / run.cpu_us_per_tx(),
            );
        }
    }
    let p99_8 = grants[1].ms(0.99);
    println!();
    println!("p99 grant latency at 8 submitters: {p99_8:.2} ms (target < 20 ms)");
    println!("total {:.0} s", t.elapsed().as_secs_f64());
}
