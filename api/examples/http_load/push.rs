//! Push latency from the POST and relay memory per idle socket.
//!
//! The relay process registers and logs in the patients over HTTP and signs
//! the doctor's access requests; a child process (this example re-run with
//! `--push-client <spec>`) holds the WebSockets, so the relay's RSS delta
//! counts the relay's end of each socket only. The child connects every
//! socket, says `connected`, waits for `go`, then for each event POSTs the
//! doctor's access request and times until the frame arrives on that
//! patient's socket (and, separately, until the POST's response).

use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use carechain_core::paillier::SecretKey;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Conn, quantile_ms, request_bytes};
use crate::world::World;

/// What the child gets.
#[derive(Serialize, Deserialize)]
struct Spec {
    addr: SocketAddr,
    /// One access token per socket (a patient each).
    tokens: Vec<String>,
    /// The doctor's relay token.
    doctor_token: String,
    /// (socket index, request id, signed access request), sent in order.
    events: Vec<(usize, String, String)>,
}

/// What the child reports.
#[derive(Serialize, Deserialize)]
struct Report {
    /// POST sent → frame received, microseconds.
    receipt_us: Vec<u64>,
    /// POST sent → response read, microseconds.
    response_us: Vec<u64>,
}

/// The push measurements.
pub struct PushResult {
    /// Connected sockets.
    pub sockets: usize,
    /// POST → socket receipt, sorted.
    pub receipt: Vec<Duration>,
    /// POST → response, sorted.
    pub response: Vec<Duration>,
    /// Relay RSS before the sockets connected, KiB.
    pub rss_before: u64,
    /// Relay RSS with every socket connected and idle, KiB.
    pub rss_after: u64,
}

impl PushResult {
    /// Relay memory per idle socket, KiB.
    pub fn per_socket_kib(&self) -> f64 {
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.sockets as f64
    }

    /// A quantile of receipt latency, ms.
    pub fn receipt_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.receipt, q)
    }

    /// A quantile of POST response latency, ms.
    pub fn response_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.response, q)
    }
}

/// This process's resident set, KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Registers `sockets` patients (sharing `key`), then runs the child and
/// measures; `dir` holds the spec file.
pub async fn measure(
    world: &mut World,
    addr: SocketAddr,
    key: &Arc<SecretKey>,
    sockets: usize,
    events: usize,
    dir: &std::path::Path,
) -> PushResult {
    let patients = world.patients(std::slice::from_ref(key), sockets).await;
    let doctor = world.doctor.copy();
    let mut list = Vec::with_capacity(events);
    for n in 0..events {
        // Spread over the sockets; a stride coprime with 1,000 visits them all.
        let target = (n * 389) % sockets;
        let request = carechain_core::ids::RequestId::random(&mut world.rng);
        let act = carechain_core::statement::Action::AccessRequest(
            carechain_core::statement::AccessRequest {
                request,
                patient: patients[target].id(),
                actions: vec![carechain_core::statement::AccessAction::Read],
                scope: carechain_core::statement::Scope::All,
                purpose: carechain_core::statement::PurposeOfUse::Treat,
                duration_secs: 86_400,
            },
        );
        let statement = world.sign(&doctor.key, act);
        list.push((target, request.to_string(), statement));
    }
    let spec = Spec {
        addr,
        tokens: patients.iter().map(|p| p.token.clone()).collect(),
        doctor_token: doctor.token.clone(),
        events: list,
    };
    let path = dir.join("push-spec.json");
    std::fs::write(&path, serde_json::to_vec(&spec).unwrap()).unwrap();
    drop(spec);

    // Let the registrations' outbox and allocations settle before the baseline.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--push-client")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // Blocking reads go to the blocking pool: this thread runs the outbox producer.
    let (line, mut lines) = actix_web::rt::task::spawn_blocking(move || {
        let line = lines.next();
        (line, lines)
    })
    .await
    .unwrap();
    assert_eq!(line.unwrap().unwrap(), "connected", "push client");
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    let rss_after = rss_kib();
    stdin.write_all(b"go\n").unwrap();
    let line = actix_web::rt::task::spawn_blocking(move || lines.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let status = actix_web::rt::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "push client failed: {status}");
    let report: Report = serde_json::from_str(&line).unwrap();
    let sorted = |v: Vec<u64>| {
        let mut d: Vec<Duration> = v.into_iter().map(Duration::from_micros).collect();
        d.sort();
        d
    };
    PushResult {
        sockets,
        receipt: sorted(report.receipt_us),
        response: sorted(report.response_us),
        rss_before,
        rss_after,
    }
}

/// The child: holds the sockets and times the events (see the module docs).
pub fn child(spec_path: &str) {
    let spec: Spec = serde_json::from_slice(&std::fs::read(spec_path).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant, String)>();
        for (i, token) in spec.tokens.iter().enumerate() {
            let url = format!("ws://{}/v1/events?access_token={token}&after=0", spec.addr);
            let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let tx = tx.clone();
            // Reading also answers the server's pings.
            tokio::spawn(async move {
                while let Some(msg) = socket.next().await {
                    match msg {
                        Ok(Message::Text(text)) => {
                            let _ = tx.send((i, Instant::now(), text.as_str().to_owned()));
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
        }
        println!("connected");
        let go = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(go.trim(), "go");

        let mut conn = Conn::open(spec.addr).await.unwrap();
        let mut report = Report {
            receipt_us: Vec::new(),
            response_us: Vec::new(),
        };
        for (n, (target, request, statement)) in spec.events.iter().enumerate() {
            let body = format!("{{\"statement\":\"{statement}\"}}");
            let idem = format!("push-{n}");
            let bytes = request_bytes(
                "POST",
                "/v1/requests",
                Some(&spec.doctor_token),
                Some(&idem),
                &body,
            );
            let start = Instant::now();
            let post = async {
                let res = conn
                    .send(&bytes)
                    .await
                    .unwrap_or_else(|e| panic!("event {n}: POST /v1/requests: {e}"));
                (res, start.elapsed())
            };
            let receipt = async {
                let wait = tokio::time::timeout(Duration::from_secs(10), async {
                    loop {
                        let (i, at, text) = rx.recv().await.unwrap();
                        if i == *target && text.contains(request.as_str()) {
                            assert!(text.contains("access_requested"), "{text}");
                            return at - start;
                        }
                    }
                });
                wait.await
                    .unwrap_or_else(|_| panic!("event {n} did not arrive within 10 s"))
            };
            let ((res, response), receipt) = tokio::join!(post, receipt);
            assert_eq!(res.status, 201, "access request: {}", res.text());
            report.receipt_us.push(receipt.as_micros() as u64);
            report.response_us.push(response.as_micros() as u64);
        }
        report
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(&report).unwrap()).unwrap();
    out.flush().unwrap();
}
