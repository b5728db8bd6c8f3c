//! Relay load generator (issue 4's benchmark): in one run, on loopback,
//!
//! 1. starts the real relay in-process (actix-web HTTP server, SQLite and the
//!    embedded ledger in a temp dir, the outbox producer), and a second,
//!    ledger-only world (an `EmbeddedLedger` in a sibling dir, no relay);
//! 2. push: registers 1,000 patients over HTTP; a child process holds one
//!    WebSocket each; times a doctor's access-request POST until the event
//!    arrives on the patient's socket; relay RSS per idle socket;
//! 3. grants and claims, every statement signed before the clock starts:
//!    through HTTP on 64 keep-alive connections, and straight into
//!    `EmbeddedLedger::submit` from 64 submitters; rounds alternate the
//!    order (ledger first, then relay first) so drift hits both, and each
//!    run starts once the process is quiet, so neither pays for work the
//!    other's set-up left behind;
//! 4. retries: `BENCH_RETRIES` more grants sent through the relay to
//!    completion, then sent again with the same keys, which the relay
//!    answers from the ledger's earlier transactions;
//! 5. prints requests/s, p50, p99 and the process's CPU time per request
//!    side by side with the relay overhead.
//!
//! `cargo run --release -p carechain-api --example http_load`
//!
//! Environment: `BENCH_SECS` (default 5) bounds each grant run,
//! `BENCH_ROUNDS` (2), `BENCH_GRANTS` (grants signed per world and round,
//! 10000), `BENCH_CLAIMS` (per world and round, 192), `BENCH_SOCKETS` (1000),
//! `BENCH_EVENTS` (300), `BENCH_RETRIES` (2000), `BENCH_DIR` (where the
//! temp dirs go). The relay
//! logs as `serve` does (JSON at `info`), into `relay.log` in the temp dir.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

mod client;
mod push;
mod workload;
mod world;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use carechain_api::config::Config;
use carechain_api::relay::Relay;
use carechain_core::paillier::SecretKey;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;

use client::{Run, Step, Target, drive};
use world::World;

/// Concurrent connections (relay) and submitters (ledger).
const CONNECTIONS: usize = 64;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--push-client") {
        push::child(&args[2]);
        return;
    }
    actix_web::rt::System::new().block_on(run());
}

/// Both worlds' runs of one workload, merged over rounds.
#[derive(Default)]
struct Pair {
    ledger: Vec<Run>,
    relay: Vec<Run>,
}

/// Runs merged: total requests over total time, latencies pooled.
fn merge(runs: &[Run]) -> Run {
    let mut latencies: Vec<Duration> = runs.iter().flat_map(|r| r.latencies.clone()).collect();
    latencies.sort();
    Run {
        count: latencies.len(),
        elapsed: runs.iter().map(|r| r.elapsed).sum(),
        cpu: runs.iter().map(|r| r.cpu).sum(),
        latencies,
    }
}

async fn measure_pair(
    pair: &mut Pair,
    round: usize,
    ledger: (&Target, Vec<Vec<Step>>),
    relay: (&Target, Vec<Vec<Step>>),
    deadline: Duration,
    needle: Option<&'static str>,
) {
    let (lt, ls) = ledger;
    let (rt, rs) = relay;
    if round.is_multiple_of(2) {
        pair.ledger.push(drive(lt, ls, deadline, needle).await);
        pair.relay.push(drive(rt, rs, deadline, needle).await);
    } else {
        pair.relay.push(drive(rt, rs, deadline, needle).await);
        pair.ledger.push(drive(lt, ls, deadline, needle).await);
    }
}

async fn run() {
    let secs: f64 = env("BENCH_SECS", 5.0);
    let rounds: usize = env("BENCH_ROUNDS", 2);
    let grants: usize = env("BENCH_GRANTS", 10_000);
    let claims: usize = env("BENCH_CLAIMS", 192);
    let sockets: usize = env("BENCH_SOCKETS", 1_000);
    let events: usize = env("BENCH_EVENTS", 300);
    let retries: usize = env("BENCH_RETRIES", 2_000);
    let base = std::env::var_os("BENCH_DIR").unwrap_or_else(|| std::env::temp_dir().into());
    let dir = tempfile::tempdir_in(&base).unwrap();
    println!("data in {}", dir.path().display());
    let total = Instant::now();
    // The relay logs as `serve` does (JSON, `info`), into a file, so logging is part of the cost.
    let log = std::fs::File::create(dir.path().join("relay.log")).unwrap();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .json()
        .with_writer(std::sync::Mutex::new(log))
        .init();

    let t = Instant::now();
    let mut rng = ChaCha20Rng::seed_from_u64(3072);
    let claim_keys: Vec<Arc<SecretKey>> = (0..3)
        .map(|_| Arc::new(SecretKey::generate(3072, &mut rng).unwrap()))
        .collect();
    let small_key = Arc::new(SecretKey::generate(2048, &mut rng).unwrap());
    println!(
        "Paillier keys: 3 × 3072 bits (claims), 1 × 2048 bits (others) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // The relay as `serve` runs it, on an ephemeral loopback port.
    let config = Config {
        data_dir: dir.path().join("relay"),
        login_attempts_per_minute: 1_000_000,
        signups_per_client_per_hour: 1_000_000,
        signups_per_hour: 1_000_000,
        patient_registrations_per_client_per_hour: 1_000_000,
        patient_registrations_per_hour: 1_000_000,
        access_token_ttl_secs: 3_600,
        ..Config::default()
    };
    let server = Relay::builder(config)
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .disable_signals()
        .start()
        .unwrap();
    let (addr, state) = (server.addr(), server.state().clone());

    let mut relay = World::relay(&state, addr).await;
    let mut ledger = World::ledger(&dir.path().join("ledger"), &state.config.ledger_audience).await;

    // Push first, on an otherwise idle relay.
    let t = Instant::now();
    let push = push::measure(&mut relay, addr, &small_key, sockets, events, dir.path()).await;
    println!(
        "push: {sockets} patients registered, sockets and {events} events in {:.1} s \
         (receipt p50 {:.2} ms, p99 {:.2} ms; {:.1} KiB per socket)",
        t.elapsed().as_secs_f64(),
        push.receipt_ms(0.5),
        push.receipt_ms(0.99),
        push.per_socket_kib()
    );

    // Grants: 64 patients per world, patient s on connection / submitter s.
    let t = Instant::now();
    let relay_patients = relay
        .patients(std::slice::from_ref(&small_key), CONNECTIONS)
        .await;
    let ledger_patients = ledger
        .patients(std::slice::from_ref(&small_key), CONNECTIONS)
        .await;
    let mut grant_pair = Pair::default();
    for round in 0..rounds {
        let ls = workload::grants(&mut ledger, &ledger_patients, grants).await;
        let rs = workload::grants(&mut relay, &relay_patients, grants).await;
        let deadline = Duration::from_secs_f64(secs);
        let (lt, rt) = (ledger.target.clone(), relay.target.clone());
        measure_pair(&mut grant_pair, round, (&lt, ls), (&rt, rs), deadline, None).await;
    }
    println!(
        "grants: {rounds} rounds in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Retries: grants sent once to completion, then again with the same keys.
    let streams = workload::grants(&mut relay, &relay_patients, retries).await;
    let target = relay.target.clone();
    let first = drive(&target, streams.clone(), Duration::MAX, None).await;
    let again = drive(&target, streams, Duration::MAX, None).await;

    // Claims: 16 patients per world on 3 shared 3072-bit keys.
    let t = Instant::now();
    let relay_patients = relay.patients(&claim_keys, 16).await;
    let ledger_patients = ledger.patients(&claim_keys, 16).await;
    let mut claim_pair = Pair::default();
    for round in 0..rounds {
        let ls = workload::claims(
            &mut ledger,
            &ledger_patients,
            claims,
            CONNECTIONS,
            round == 0,
        )
        .await;
        let rs =
            workload::claims(&mut relay, &relay_patients, claims, CONNECTIONS, round == 0).await;
        let (lt, rt) = (ledger.target.clone(), relay.target.clone());
        let approved = Some("\"decision\":\"approved\"");
        measure_pair(
            &mut claim_pair,
            round,
            (&lt, ls),
            (&rt, rs),
            Duration::MAX,
            approved,
        )
        .await;
    }
    println!(
        "claims: {rounds} rounds in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    server.stop().await.unwrap();

    report(&grant_pair, &claim_pair, &push);
    report_retries(&first, &again);
    println!("\ntotal {:.0} s", total.elapsed().as_secs_f64());
}

fn report_retries(first: &Run, again: &Run) {
    println!();
    println!("| grant through the relay | requests | req/s | p50 ms | p99 ms | CPU µs/req |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, run) in [
        ("first send", first),
        ("sent again (answered from the ledger)", again),
    ] {
        println!(
            "| {name} | {} | {:.1} | {:.2} | {:.2} | {:.0} |",
            run.count,
            run.rate(),
            run.ms(0.5),
            run.ms(0.99),
            run.cpu_us()
        );
    }
}

fn report(grants: &Pair, claims: &Pair, push: &push::PushResult) {
    println!();
    println!("Per round (req/s): ledger-only / relay over HTTP, with the process's CPU time");
    for (name, pair) in [("grant", grants), ("claim", claims)] {
        let rounds: Vec<String> = pair
            .ledger
            .iter()
            .zip(&pair.relay)
            .map(|(l, r)| {
                format!(
                    "{:.1} / {:.1} ({:.0} / {:.0} µs CPU per request)",
                    l.rate(),
                    r.rate(),
                    l.cpu_us(),
                    r.cpu_us()
                )
            })
            .collect();
        println!("  {name}: {}", rounds.join(", "));
    }
    println!();
    println!(
        "| workload | path | concurrency | requests | req/s | p50 ms | p99 ms | CPU µs/req | relay overhead (target ≤ 25%) |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|");
    for (name, pair) in [("grant", grants), ("claim", claims)] {
        let l = merge(&pair.ledger);
        let r = merge(&pair.relay);
        let overhead = 100.0 * (1.0 - r.rate() / l.rate());
        println!(
            "| {name} | ledger only (`EmbeddedLedger::submit`) | {CONNECTIONS} submitters | {} | {:.1} | {:.2} | {:.2} | {:.0} | |",
            l.count,
            l.rate(),
            l.ms(0.5),
            l.ms(0.99),
            l.cpu_us()
        );
        println!(
            "| {name} | relay over HTTP | {CONNECTIONS} connections | {} | {:.1} | {:.2} | {:.2} | {:.0} | {overhead:.1}% |",
            r.count,
            r.rate(),
            r.ms(0.5),
            r.ms(0.99),
            r.cpu_us()
        );
    }
    println!();
    println!("| push ({} sockets) | result | target |", push.sockets);
    println!("|---|---:|---:|");
    println!(
        "| access-request POST → event on the patient's socket, p50 | {:.2} ms | |",
        push.receipt_ms(0.5)
    );
    println!(
        "| access-request POST → event on the patient's socket, p99 | {:.2} ms | < 25 ms |",
        push.receipt_ms(0.99)
    );
    println!(
        "| access-request POST → event on the patient's socket, max | {:.2} ms | |",
        push.receipt_ms(1.0)
    );
    println!(
        "| access-request POST → HTTP response, p50 / p99 | {:.2} / {:.2} ms | |",
        push.response_ms(0.5),
        push.response_ms(0.99)
    );
    println!(
        "| relay RSS per idle socket (relay process only; {} → {} KiB) | {:.1} KiB | < 64 KiB |",
        push.rss_before,
        push.rss_after,
        push.per_socket_kib()
    );
}
