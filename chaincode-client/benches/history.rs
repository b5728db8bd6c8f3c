//! Whether a page and a consent check cost the same on a young and an old
//! ledger: with 100 and with 20,000 products and past access requests, on the
//! embedded ledger and through the Fabric test peer (Gateway → peer → the
//! chaincode server, as in `tests/conformance`).
//!
//! Measured (median of `BENCH_SAMPLES`, default 15, after one warm-up):
//! - `products limit 10`: the query `products` with limit 10 (evaluate);
//! - `grant`: a patient's grant of a fresh access request (submit, to
//!   durable), the patient having `n` past requests from the same doctor;
//! - `read_record`: the doctor's logged read of a record (submit), whose
//!   consent check looks for the grant in force between the two;
//! - `readers`: the query that lists who a new record must be wrapped for.
//!
//! Seeding (not measured) submits the products and requests concurrently.
//! A measurement that fails (e.g. a query past the Gateway's 5 s evaluate
//! deadline) shows as `failed`.
//!
//! Run: `cargo bench -p carechain-ledger --features fabric --bench history`;
//! `BENCH_SIZES` (default `100,20000`), `BENCH_BACKENDS` (default
//! `embedded,fabric`), `BENCH_DIR` where the embedded ledgers live.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use carechain_chaincode::CareChain;
use carechain_core::paillier::SecretKey;
use carechain_core::statement::{AccessAction, Action, Grant, ReadRecord, Role, Scope};
use carechain_ledger::{EmbeddedLedger, EmbeddedOptions, Ledger, Proposal};
use carechain_testkit::fabric::{self, world_on};
use carechain_testkit::ledger::runtime;
use carechain_testkit::{Actor, DAY, LedgerDriver, World, keys, statements};

/// The contract behind a ledger.
type Care = World<LedgerDriver>;

/// Statements signed and submitted at once while seeding.
const SEED_CHUNK: usize = 500;

/// Median time of each measurement, in ms (`None`: it failed).
struct Row {
    backend: &'static str,
    size: usize,
    products: Option<f64>,
    grant: Option<f64>,
    read: Option<f64>,
    readers: Option<f64>,
}

fn median(mut v: Vec<Duration>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort();
    Some(v[v.len() / 2].as_secs_f64() * 1e3)
}

/// Submits `tokens` concurrently; every one must commit.
fn submit_all(care: &Care, tokens: Vec<String>) {
    let ledger = care.driver.ledger.clone();
    care.driver.rt.block_on(async move {
        let all = tokens.into_iter().map(|t| {
            let ledger = ledger.clone();
            async move {
                ledger
                    .submit(Proposal::new("submit", [t.into_bytes()]))
                    .await
            }
        });
        for r in futures::future::join_all(all).await {
            r.unwrap();
        }
    });
}

/// `n` products of `insurer` and `n` pending requests of `doctor` to `patient`.
fn seed(care: &mut Care, insurer: &Actor, doctor: &Actor, patient: &Actor, n: usize) {
    let all = vec![AccessAction::Read, AccessAction::Write];
    let mut done = 0;
    while done < n {
        let chunk = SEED_CHUNK.min(n - done);
        let mut tokens = Vec::with_capacity(2 * chunk);
        for _ in 0..chunk {
            let act =
                Action::PublishProduct(statements::product(&[("I10", 10_000)], &mut care.rng));
            tokens.push(care.sign(&insurer.key, act));
            let (_, request) = care.request_token(doctor, patient, all.clone(), Scope::All);
            tokens.push(request);
        }
        submit_all(care, tokens);
        done += chunk;
    }
}

/// `f`'s result, or `None` if it panicked (a query past the Gateway's
/// evaluate deadline panics in `Care`; that is a result, not a bench failure).
fn attempt<T>(f: impl FnOnce() -> Option<T>) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .ok()
        .flatten()
}

fn timed(samples: usize, mut f: impl FnMut() -> Option<Duration>) -> Option<f64> {
    attempt(&mut f)?;
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        times.push(attempt(&mut f)?);
    }
    median(times)
}

fn measure(
    backend: &'static str,
    ledger: Arc<dyn Ledger>,
    rt: &tokio::runtime::Runtime,
    sk: &Arc<SecretKey>,
    size: usize,
    samples: usize,
) -> Row {
    let mut care = world_on(ledger, rt);
    let insurer = care.registered(Role::Insurer);
    let doctor = care.registered(Role::Doctor);
    let patient = care.patient_with(sk);
    let t = Instant::now();
    seed(&mut care, &insurer, &doctor, &patient, size);
    println!(
        "{backend} {size}: seeded in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    care.consent(&doctor, &patient);
    // The write asks `readers` first, which may miss the evaluate deadline.
    let record = attempt(|| Some(care.write(&doctor, &patient, "I10")));

    let products = timed(samples, || {
        let t = Instant::now();
        let page = care.query("products", &["", "10"]).ok()?;
        assert_eq!(page["items"].as_array().unwrap().len(), 10);
        Some(t.elapsed())
    });
    let all = vec![AccessAction::Read, AccessAction::Write];
    let grant = timed(samples, || {
        let request = care.request(&doctor, &patient, all.clone(), Scope::All);
        let body = Grant {
            request,
            actions: vec![AccessAction::Write],
            scope: Scope::All,
            expires_at: care.now() + DAY,
            keys: Vec::new(),
        };
        let token = care.sign(&patient.key, Action::Grant(body));
        let t = Instant::now();
        care.submit_token(&token).ok()?;
        Some(t.elapsed())
    });
    let read = timed(samples, || {
        let record = record?;
        let token = care.sign(&doctor.key, Action::ReadRecord(ReadRecord { record }));
        let t = Instant::now();
        care.submit_token(&token).ok()?;
        Some(t.elapsed())
    });
    let id = patient.id().to_string();
    let readers = timed(samples, || {
        let t = Instant::now();
        care.query("readers", &[&id, "general"]).ok()?;
        Some(t.elapsed())
    });
    let row = Row {
        backend,
        size,
        products,
        grant,
        read,
        readers,
    };
    println!("{}", row.cells());
    row
}

impl Row {
    fn cells(&self) -> String {
        let cell = |v: Option<f64>| v.map_or_else(|| "failed".to_owned(), |ms| format!("{ms:.2}"));
        format!(
            "| {} | {} | {} | {} | {} | {} |",
            self.backend,
            self.size,
            cell(self.products),
            cell(self.grant),
            cell(self.read),
            cell(self.readers)
        )
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "100,20000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "embedded,fabric".into());
    let samples: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let base = std::env::var_os("BENCH_DIR").unwrap_or_else(|| ".".into());
    let rt = runtime();
    let sk = keys::paillier_key(0);
    let mut rows = Vec::new();
    for &size in &sizes {
        if backends.contains("embedded") {
            let dir = tempfile::tempdir_in(&base).unwrap();
            let ledger =
                EmbeddedLedger::open(dir.path(), Arc::new(CareChain), EmbeddedOptions::default());
            let ledger: Arc<dyn Ledger> = Arc::new(ledger.unwrap());
            rows.push(measure("embedded", ledger, &rt, &sk, size, samples));
        }
        if backends.contains("fabric") {
            let (_network, ledger) = fabric::start(&rt);
            rows.push(measure("fabric test peer", ledger, &rt, &sk, size, samples));
        }
    }
    println!();
    println!(
        "| backend | products / past requests | `products` limit 10, ms | grant, ms | read_record, ms | `readers`, ms |"
    );
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{}", r.cells());
    }
}
