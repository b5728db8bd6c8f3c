//! Round trips of the patient's history-dependent operations, through a
//! delaying TCP proxy (a benchmark, not a test).
//!
//! Starts a real `carechain-relay` on a temporary data directory and a free
//! loopback port, puts a proxy in front of it that delays every chunk by
//! 50 ms in each direction (ordering kept, so every request/response
//! exchange costs +100 ms) and counts the HTTP requests it forwards. A
//! doctor writes N records for one patient straight to the relay; the
//! patient's client, through the proxy, then
//!
//! - approves a read grant over all N records (`approve`),
//! - lists and decrypts the N records, checking each `E(code)` (`records`),
//! - files a claim for one of them (`file_claim`),
//!
//! for N = 10, 100 and 500 (or `ROUND_TRIPS_N=10,100`). The patient is
//! logged in before each measurement, so login requests are not counted.
//!
//! ```text
//! export CARGO_TARGET_DIR=/work/main/target
//! cargo build --release -p carechain-api --bin carechain-relay
//! cargo run --release -p carechain-client --example round_trips
//! ```
//!
//! The relay binary is `$CARECHAIN_RELAY_BIN`, else
//! `$CARGO_TARGET_DIR/{release,debug}/carechain-relay`, else the workspace's
//! `target/`. Everything runs on 127.0.0.1.

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use carechain_client::PatientClient;
use carechain_client::doctor::AccessAsk;
use carechain_client::patient::PolicyCheck;
use carechain_core::OsRng;
use carechain_core::ids::{PolicyId, RecordId};
use carechain_core::ledger::Decision;
use carechain_core::protocol::check::CodeCheck;
use carechain_core::protocol::fhir;
use carechain_core::statement::{
    AccessAction, PurposeOfUse, RecordCategory, Role, Scope, Treatment,
};
use carechain_core::wallet::Wallet;
use carechain_testkit::process::{LEDGER_AUDIENCE, RelayProcess, relay_binary};
use carechain_testkit::statements;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;

use common::{Error, enrol};

/// The delay added to each chunk in each direction.
const ONE_WAY: Duration = Duration::from_millis(50);
const AUDIENCE: &str = LEDGER_AUDIENCE;
/// The diagnosis of every record, and the product's one covered item.
const CODE: &str = "E11.9";
/// Doctor writes in flight at once while filling the history.
const WRITERS: usize = 4;

// ---------------------------------------------------------------- the proxy

/// A TCP proxy on 127.0.0.1 that delays each chunk by [`ONE_WAY`] in each
/// direction, keeping order, and counts the HTTP/1.1 request lines it forwards.
struct Proxy {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Result<Self, Error> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        tokio::spawn(pipe(cr, sw, Some(counter)));
                        tokio::spawn(pipe(sr, cw, None));
                    }
                });
            }
        });
        Ok(Proxy { addr, requests })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Forwards `from` to `to`, each chunk held until [`ONE_WAY`] after it was
/// read (a reader task and a writer task, so delays overlap as on a real
/// link). Counts `" HTTP/1.1\r\n"` (the end of a request line) if asked.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    count: Option<Arc<AtomicU64>>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due.into()).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    const MARK: &[u8] = b" HTTP/1.1\r\n";
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = buf[..n].to_vec();
        if let Some(counter) = &count {
            // Count across chunk boundaries: keep the last MARK.len()-1 bytes.
            tail.extend_from_slice(&chunk);
            let found = tail.windows(MARK.len()).filter(|w| *w == MARK).count();
            counter.fetch_add(found as u64, Ordering::SeqCst);
            let keep = tail.len().min(MARK.len() - 1);
            tail.drain(..tail.len() - keep);
        }
        if tx.send((Instant::now() + ONE_WAY, chunk)).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

// ---------------------------------------------------------------- the relay

/// The relay binary: `$CARECHAIN_RELAY_BIN`, else a release or debug build
/// under `$CARGO_TARGET_DIR` or the workspace's `target/`.
pub fn relay_bin() -> Result<PathBuf, Error> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"));
    let candidates =
        ["release", "debug"].map(|profile| target.join(profile).join("carechain-relay"));
    relay_binary(candidates).ok_or_else(|| {
        "no carechain-relay: build it (cargo build --release -p carechain-api \
         --bin carechain-relay) or set CARECHAIN_RELAY_BIN"
            .into()
    })
}

// ---------------------------------------------------------------- the actors

/// One measured operation.
struct Row {
    op: &'static str,
    n: usize,
    requests: u64,
    wall: Duration,
    /// Of which: the same HTTP exchanges alone (no phone-side crypto).
    http: Option<Duration>,
}

async fn measure<T, F>(proxy: &Proxy, f: F) -> Result<(T, u64, Duration), Error>
where
    F: Future<Output = Result<T, carechain_client::ClientError>>,
{
    let before = proxy.requests();
    let start = Instant::now();
    let out = f.await?;
    let wall = start.elapsed();
    // Let the proxy's reader see the last request line.
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok((out, proxy.requests() - before, wall))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let sizes: Vec<usize> = std::env::var("ROUND_TRIPS_N")
        .unwrap_or_else(|_| "10,100,500".into())
        .split(',')
        .map(|n| n.trim().parse())
        .collect::<Result<_, _>>()?;
    let bin = relay_bin()?;
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&bin, dir.path(), Duration::from_secs(60), |_| {})?;
    println!("relay {} from {}", relay.url(), bin.display());
    let proxy = Proxy::start(relay.addr).await?;
    let direct = relay.url();

    // Staff, straight to the relay.
    let admin = common::admin(&direct, &relay.admin_keystore()?).await?;
    let writer = Arc::new(enrol(&admin, Role::Doctor, "writer").await?);
    let reader = enrol(&admin, Role::Doctor, "reader").await?;
    let insurer = enrol(&admin, Role::Insurer, "insurer").await?;

    // One patient (3072-bit Paillier, as on a phone), two sessions: setup
    // straight to the relay, measurements through the proxy.
    let started = Instant::now();
    let wallet = Arc::new(Mutex::new(Wallet::create(3072, &mut OsRng, &mut |_| {})?));
    println!(
        "patient wallet (3072-bit Paillier) in {:.2?}",
        started.elapsed()
    );
    let patient = PatientClient::new(&direct, AUDIENCE, wallet.clone())?;
    patient.register("Benchmark patient").await?;
    let phone = PatientClient::new(&proxy.url(), AUDIENCE, wallet.clone())?;
    let me = patient.actor()?;

    // The writing doctor's grant (read and write, everything).
    let ask = |actions: Vec<AccessAction>| AccessAsk {
        patient: me.clone(),
        actions,
        scope: Scope::All,
        purpose: PurposeOfUse::Treat,
        duration_secs: 30 * 86_400,
    };
    let expires = || now() + 29 * 86_400;
    let request = writer
        .request_access(ask(vec![AccessAction::Read, AccessAction::Write]))
        .await?;
    patient
        .approve(
            request,
            vec![AccessAction::Read, AccessAction::Write],
            Scope::All,
            expires(),
        )
        .await?;

    // A policy covering CODE, issued before any record (claims need a record
    // written in the term).
    let product = insurer
        .publish_product(statements::product(&[(CODE, 50_000)], &mut OsRng))
        .await?;
    let policy: PolicyId = patient.buy(product).await?;
    insurer.issue_policy(policy).await?;
    let checked = patient.policies().await?;
    assert!(
        checked.iter().all(|p| p.check == PolicyCheck::Verified),
        "the issued policy does not check"
    );

    let mut written: Vec<RecordId> = Vec::new();
    let mut rows = Vec::new();
    for &n in &sizes {
        // Fill the history to n records (straight to the relay).
        let started = Instant::now();
        let missing = n.saturating_sub(written.len());
        let json = fhir::condition(me.as_str(), CODE, "type 2 diabetes").to_string();
        let new: Vec<RecordId> = futures::stream::iter(0..missing)
            .map(|_| {
                let (writer, me, json) = (writer.clone(), me.clone(), json.clone());
                async move {
                    let visit = Treatment {
                        date_of_service: now(),
                        billed: 12_000,
                        currency: "EUR".into(),
                    };
                    writer
                        .write_record(&me, RecordCategory::General, &json, &visit)
                        .await
                }
            })
            .buffer_unordered(WRITERS)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        written.extend(new);
        println!(
            "N = {n}: wrote {missing} records in {:.1?}",
            started.elapsed()
        );

        // Approve: the reading doctor asks again, the phone grants over all N.
        let request = reader.request_access(ask(vec![AccessAction::Read])).await?;
        phone.login().await?;
        let ((), requests, wall) = measure(
            &proxy,
            phone.approve(request, vec![AccessAction::Read], Scope::All, expires()),
        )
        .await?;
        let http = {
            let start = Instant::now();
            let _: serde_json::Value = phone
                .session()
                .get(&format!(
                    "v1/requests/{}/grant-context?scope=all",
                    request.0
                ))
                .await?;
            start.elapsed()
        };
        rows.push(Row {
            op: "approve read grant",
            n,
            requests,
            wall,
            http: Some(http),
        });

        // List and open the N records.
        phone.login().await?;
        let (opened, requests, wall) = measure(&proxy, phone.records()).await?;
        assert_eq!(opened.len(), n, "records listed");
        assert!(
            opened
                .iter()
                .all(|r| matches!(r.code_check, CodeCheck::Verified { .. })),
            "a record's E(code) does not check"
        );
        let http = {
            let start = Instant::now();
            let _: Vec<serde_json::Value> = phone.session().list("v1/patients/me/records").await?;
            start.elapsed()
        };
        rows.push(Row {
            op: "list records (decrypted)",
            n,
            requests,
            wall,
            http: Some(http),
        });

        // File a claim for the newest record (never claimed before).
        let record = *written.last().ok_or("no record")?;
        phone.login().await?;
        let (claim, requests, wall) =
            measure(&proxy, phone.file_claim(policy, record, false)).await?;
        assert!(
            matches!(claim.decision, Decision::Approved { .. }),
            "claim: {:?}",
            claim.decision
        );
        rows.push(Row {
            op: "file claim",
            n,
            requests,
            wall,
            http: None,
        });
    }

    println!();
    println!("| operation | N | HTTP requests | wall time | of which HTTP alone |");
    println!("|---|---:|---:|---:|---:|");
    for r in &rows {
        let http = r
            .http
            .map_or_else(|| "–".to_owned(), |d| format!("{:.0} ms", ms(d)));
        println!(
            "| {} | {} | {} | {:.0} ms | {} |",
            r.op,
            r.n,
            r.requests,
            ms(r.wall),
            http
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
