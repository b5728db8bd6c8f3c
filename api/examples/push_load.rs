//! Push load generator: a relay in-process on loopback, 1,000 WebSockets,
//! then events committed through the producer's path (outbox transaction +
//! hub wake-up) and timed until socket receipt; RSS per idle socket from
//! /proc/self/status. Loopback only, bounded in time (≈ 30 s).
//!
//! `cargo run --release -p carechain-api --example push_load [sockets] [events]`
//!
//! Latency is measured from the outbox commit (what the producer does after
//! the ledger commits the POSTed statement) to receipt; the ledger's own
//! commit time is measured separately by the ledger benchmarks.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use actix_web::{HttpServer, web};
use futures::StreamExt as _;

use carechain_api::config::Config;
use carechain_api::push::store::{self, NewRow};
use carechain_api::state::{AppState, open_ledger};
use carechain_api::types::AccountRole;
use carechain_api::{app, db};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[actix_web::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let sockets: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let events: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(300);
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        pool_size: 8,
        ..Config::default()
    };
    let pool = db::connect(&config.database_url(), config.pool_size).unwrap();
    let ledger = open_ledger(&config).unwrap();
    let state = web::Data::new(AppState::new(config, pool, ledger, &[7u8; 32]));
    let metrics = app::metrics().unwrap();
    let shared = state.clone();
    let server = HttpServer::new(move || app::app(shared.clone(), metrics.clone()))
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;

    let before = rss_kib();
    let mut clients = Vec::with_capacity(sockets);
    for i in 0..sockets {
        let token = state
            .jwt
            .issue(
                &format!("acct{i}"),
                AccountRole::Patient,
                Some(format!("actor{i}")),
                db::now(),
            )
            .unwrap();
        let url = format!("ws://{addr}/v1/events?access_token={token}&after=0");
        clients.push(tokio_tungstenite::connect_async(url).await.unwrap().0);
    }
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib();
    // Client and server share the process: the delta includes both ends.
    let per_socket = (after.saturating_sub(before)) as f64 / sockets as f64;

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut latencies = Vec::with_capacity(events);
    for n in 0..events {
        if Instant::now() > deadline {
            break;
        }
        let target = n % sockets;
        let row = NewRow {
            recipient: format!("actor{target}"),
            kind: "access_requested".into(),
            payload: format!("{{\"request\":\"r{n}\"}}"),
            block: n as i64 + 1,
            tx_id: format!("tx{n}"),
        };
        let start = Instant::now();
        let block = row.block;
        let fresh = db::run(&state.pool, move |c| {
            store::enqueue(c, &[row], block, db::now())
        })
        .await
        .unwrap();
        for (actor, id) in fresh {
            state.push.delivered(&state.pool, &actor, id);
        }
        loop {
            match clients[target].next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_))) => break,
                Some(Ok(_)) => {}
                other => panic!("socket {target} ended: {other:?}"),
            }
        }
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "sockets={sockets} events={} p50={:?} p99={:?} max={:?} rss_before={before}KiB rss_after={after}KiB per_socket={per_socket:.1}KiB (client+server)",
        latencies.len(),
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or_default(),
    );
}
