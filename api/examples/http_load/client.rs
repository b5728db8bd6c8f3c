//! The load generator's side: a minimal HTTP/1.1 keep-alive client over
//! pre-built request bytes (so the client costs little of the 2 shared cores),
//! the concurrent drivers (one connection or one ledger submitter per stream),
//! and the latency summary.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use carechain_ledger::{EmbeddedLedger, Ledger as _, Proposal};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// One keep-alive connection to the relay.
pub struct Conn {
    stream: BufReader<TcpStream>,
    line: String,
}

/// A response: status and body bytes.
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text, for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (Null if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Formats a request with a JSON body, optional bearer token and idempotency key.
pub fn request_bytes(
    method: &str,
    path: &str,
    token: Option<&str>,
    idem: Option<&str>,
    body: &str,
) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(key) = idem {
        head.push_str(&format!("Idempotency-Key: {key}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(stream),
            line: String::new(),
        })
    }

    /// Sends pre-built request bytes and reads the response (Content-Length bodies only).
    pub async fn send(&mut self, request: &[u8]) -> std::io::Result<Response> {
        self.stream.get_mut().write_all(request).await?;
        let mut status = 0;
        let mut length = 0usize;
        let mut first = true;
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let line = self.line.trim_end();
            if first {
                first = false;
                status = line
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
                continue;
            }
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().map_err(std::io::Error::other)?;
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err(std::io::Error::other("chunked responses are not supported"));
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok(Response { status, body })
    }

    /// Builds and sends one request.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        idem: Option<&str>,
        body: &str,
    ) -> Response {
        let bytes = request_bytes(method, path, token, idem, body);
        self.send(&bytes)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

/// One ledger-bound step: where the relay takes it, and the statement.
#[derive(Clone)]
pub struct Step {
    /// The relay path.
    pub path: String,
    /// The caller's relay access token (empty for the ledger-only world).
    pub token: String,
    /// The signed statement.
    pub statement: String,
    /// The relay's success status.
    pub status: u16,
}

/// Where steps go: the relay over HTTP, or the embedded ledger directly.
#[derive(Clone)]
pub enum Target {
    /// The relay at this address.
    Http(SocketAddr),
    /// An embedded ledger, `submit` called directly.
    Ledger(Arc<EmbeddedLedger>),
}

/// What one run of concurrent streams measured.
pub struct Run {
    /// Completed requests.
    pub count: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Latencies, sorted.
    pub latencies: Vec<Duration>,
    /// CPU time of the whole process (every thread) during the run.
    pub cpu: Duration,
}

impl Run {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q` quantile in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies, q)
    }

    /// Process CPU time per completed request, in microseconds.
    pub fn cpu_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.count as f64
    }
}

/// CPU time this process has used so far, all threads, user and system
/// (`/proc/self/stat`, in clock ticks of 10 ms; zero where it is missing).
pub fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}

/// Waits until the process is quiet: at most 20 ms of CPU time (4% of a
/// core) in a 500 ms window, for at most 30 s. Background work a previous
/// step left behind (the outbox producer catching up on a set-up's events, a
/// WAL checkpoint) then does not land in the next measured run. Returns how
/// long it waited.
pub async fn settle() -> Duration {
    const WINDOW: Duration = Duration::from_millis(500);
    let started = Instant::now();
    let mut before = process_cpu();
    while started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(WINDOW).await;
        let now = process_cpu();
        if now.saturating_sub(before) <= Duration::from_millis(20) {
            break;
        }
        before = now;
    }
    started.elapsed()
}

/// The `q` quantile of sorted `latencies`, in milliseconds.
pub fn quantile_ms(latencies: &[Duration], q: f64) -> f64 {
    if latencies.is_empty() {
        return f64::NAN;
    }
    let i = ((latencies.len() - 1) as f64 * q).round() as usize;
    latencies[i].as_secs_f64() * 1e3
}

/// Checks a success body; `needle` must occur in it when given.
fn check(what: &str, ok: bool, body: &[u8], needle: Option<&str>) {
    let text = String::from_utf8_lossy(body);
    assert!(ok, "{what} failed: {text}");
    if let Some(needle) = needle {
        assert!(text.contains(needle), "{what}: expected {needle} in {text}");
    }
}

/// Runs each stream on its own connection (HTTP) or task (ledger) until it
/// runs out or `deadline` passes; each success body must contain `needle`.
/// Everything is built, and the process has [`settle`]d, before the clock
/// starts.
pub async fn drive(
    target: &Target,
    streams: Vec<Vec<Step>>,
    deadline: Duration,
    needle: Option<&'static str>,
) -> Run {
    let waited = settle().await;
    if waited >= Duration::from_secs(30) {
        println!("  (the process was still busy after {waited:?}; measuring anyway)");
    }
    let mut tasks = Vec::with_capacity(streams.len());
    let cpu_start;
    let started = match target {
        Target::Http(addr) => {
            let mut prepared = Vec::with_capacity(streams.len());
            for (s, stream) in streams.into_iter().enumerate() {
                let conn = Conn::open(*addr).await.unwrap();
                let requests: Vec<(Vec<u8>, u16)> = stream
                    .iter()
                    .enumerate()
                    .map(|(i, step)| {
                        let body = format!("{{\"statement\":\"{}\"}}", step.statement);
                        let idem = format!(
                            "load-{s}-{i}-{}",
                            &step.statement[step.statement.len() - 16..]
                        );
                        let bytes = request_bytes(
                            "POST",
                            &step.path,
                            Some(&step.token),
                            Some(&idem),
                            &body,
                        );
                        (bytes, step.status)
                    })
                    .collect();
                prepared.push((conn, requests));
            }
            cpu_start = process_cpu();
            let started = Instant::now();
            for (mut conn, requests) in prepared {
                tasks.push(actix_web::rt::spawn(async move {
                    let mut latencies = Vec::with_capacity(requests.len());
                    for (bytes, status) in requests {
                        if started.elapsed() >= deadline {
                            break;
                        }
                        let t = Instant::now();
                        let res = conn.send(&bytes).await.unwrap();
                        latencies.push(t.elapsed());
                        if res.status >= 500 {
                            // Counted and reported, not fatal: the relay's own failures under load.
                            eprintln!("relay answered {}: {}", res.status, res.text());
                            continue;
                        }
                        check("request", res.status == status, &res.body, needle);
                    }
                    latencies
                }));
            }
            started
        }
        Target::Ledger(ledger) => {
            let prepared: Vec<Vec<Proposal>> = streams
                .into_iter()
                .map(|stream| {
                    stream
                        .into_iter()
                        .map(|step| Proposal::new("submit", [step.statement.into_bytes()]))
                        .collect()
                })
                .collect();
            cpu_start = process_cpu();
            let started = Instant::now();
            for proposals in prepared {
                let ledger = ledger.clone();
                tasks.push(actix_web::rt::spawn(async move {
                    let mut latencies = Vec::with_capacity(proposals.len());
                    for proposal in proposals {
                        if started.elapsed() >= deadline {
                            break;
                        }
                        let t = Instant::now();
                        let res = ledger.submit(proposal).await;
                        latencies.push(t.elapsed());
                        match res {
                            Ok(c) => check("submit", true, &c.payload, needle),
                            Err(e) => panic!("submit failed: {e}"),
                        }
                    }
                    latencies
                }));
            }
            started
        }
    };
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_start);
    latencies.sort();
    Run {
        count: latencies.len(),
        elapsed,
        latencies,
        cpu,
    }
}

/// Deals `items` round-robin into `n` streams.
pub fn split<T>(items: Vec<T>, n: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        out[i % n].push(item);
    }
    out
}

/// Runs `steps` from 64 streams with no deadline (set-up, untimed).
pub async fn setup(target: &Target, steps: Vec<Step>) {
    if steps.is_empty() {
        return;
    }
    let n = steps.len().min(64);
    drive(target, split(steps, n), Duration::MAX, None).await;
}
