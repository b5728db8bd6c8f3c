//! Measures the HTTP/2 clients considered for APNs and FCM against a local
//! HTTP/2 server (the `h2` crate's, cleartext with prior knowledge): reqwest
//! with its `http2` feature (what the relay uses, see `push::native`) and the
//! `h2` client directly (what hyper's HTTP/2 is built on, i.e. the floor of
//! "hyper directly"). Each client sends `N` APNs-shaped requests (a JWT
//! bearer, five `apns-*` headers, a 150-byte JSON body) over one connection,
//! `C` in flight at once, and the run prints requests per second and the
//! median and 99th-percentile latency. Results: docs/benchmarks.md.
//!
//! `cargo run --release -p carechain-api --example push_clients [N] [C]`
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;

const BODY: &str = r#"{"aps":{"alert":{"title":"CareChain","body":"A doctor asks for access to your records."},"sound":"default"},"id":123456,"kind":"access_requested"}"#;
const JWT: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6IkFCQzEyM0RFRkcifQ.eyJpc3MiOiJERUYxMjNHSElKIiwiaWF0IjoxNzY1MTUzMjAwfQ.MEUCIQDtest-signature-of-plausible-length-for-an-es256-provider-token-abcdefghijk";

async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut conn = h2::server::handshake(socket).await.unwrap();
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    tokio::spawn(async move {
                        let mut body = req.into_body();
                        while let Some(Ok(chunk)) = body.data().await {
                            let _ = body.flow_control().release_capacity(chunk.len());
                        }
                        let res = http::Response::builder().status(200).body(()).unwrap();
                        let _ = respond.send_response(res, true);
                    });
                }
            });
        }
    });
    format!("http://{addr}")
}

fn summary(name: &str, total: Duration, mut lat: Vec<Duration>) {
    lat.sort();
    let n = lat.len();
    println!(
        "{name:<24} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   ({n} in {:.3} s)",
        n as f64 / total.as_secs_f64(),
        lat[n / 2].as_secs_f64() * 1e3,
        lat[(n * 99) / 100].as_secs_f64() * 1e3,
        total.as_secs_f64()
    );
}

async fn with_reqwest(base: &str, n: usize, c: usize) {
    let http = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let url = format!("{base}/3/device/{}", "ab".repeat(32));
    let start = Instant::now();
    let lat: Vec<Duration> = futures::stream::iter(0..n)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let t = Instant::now();
                let res = http
                    .post(url)
                    .header("authorization", format!("bearer {JWT}"))
                    .header("apns-topic", "org.carechain.app")
                    .header("apns-push-type", "alert")
                    .header("apns-priority", "10")
                    .header("apns-expiration", "1765239600")
                    .header("apns-collapse-id", format!("carechain-{i}"))
                    .header("content-type", "application/json")
                    .body(BODY)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                t.elapsed()
            }
        })
        .buffer_unordered(c)
        .collect()
        .await;
    summary("reqwest (http2)", start.elapsed(), lat);
}

async fn with_h2(base: &str, n: usize, c: usize) {
    let tcp = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut send = send.ready().await.unwrap();
    let uri = format!("{base}/3/device/{}", "ab".repeat(32));
    let start = Instant::now();
    let mut pending = futures::stream::FuturesUnordered::new();
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        if pending.len() >= c {
            lat.push(pending.next().await.unwrap());
        }
        let req = http::Request::post(&uri)
            .header("authorization", format!("bearer {JWT}"))
            .header("apns-topic", "org.carechain.app")
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-expiration", "1765239600")
            .header("apns-collapse-id", format!("carechain-{i}"))
            .header("content-type", "application/json")
            .body(())
            .unwrap();
        send = send.ready().await.unwrap();
        let t = Instant::now();
        let (res, mut stream) = send.send_request(req, false).unwrap();
        stream
            .send_data(Bytes::from_static(BODY.as_bytes()), true)
            .unwrap();
        pending.push(async move {
            assert_eq!(res.await.unwrap().status(), 200);
            t.elapsed()
        });
    }
    while let Some(l) = pending.next().await {
        lat.push(l);
    }
    summary("h2 client (hyper's core)", start.elapsed(), lat);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let c: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let base = serve().await;
        // Warm-up, then each client twice, interleaved.
        with_reqwest(&base, n / 10, c).await;
        with_h2(&base, n / 10, c).await;
        for _ in 0..2 {
            with_reqwest(&base, n, c).await;
            with_h2(&base, n, c).await;
        }
    });
}
