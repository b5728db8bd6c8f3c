//! Crash safety: a child process submits continuously and is killed with
//! SIGKILL at random moments; every transaction it saw acknowledged must be in
//! a block after restart, and `verify` must pass.
//!
//! The child is this test binary itself, re-run on the `crash_child` test with
//! an environment variable naming the ledger directory.
#![allow(clippy::unwrap_used)] // Test helpers outside #[test] functions.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use carechain_ledger::{EmbeddedLedger, EmbeddedOptions, Ledger, verify};
use common::{KvContract, p};
use rand::Rng;

const CHILD_ENV: &str = "CARECHAIN_LEDGER_CRASH_CHILD_DIR";
const MIN_ROUNDS: usize = 20;
const MAX_ROUNDS: usize = 40;
const TIME_BUDGET: Duration = Duration::from_secs(30);

/// The child: submits from 8 tasks forever, printing `ACK <tx id> <block>` per acknowledgement.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return; // Only meaningful when re-run by the parent.
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async move {
        let ledger = EmbeddedLedger::open(
            dir.as_ref(),
            Arc::new(KvContract),
            EmbeddedOptions::default(),
        )
        .unwrap();
        let ledger = Arc::new(ledger);
        let tasks: Vec<_> = (0..8)
            .map(|s| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    for i in 0u64.. {
                        let proposal = if i % 2 == 0 {
                            p("incr", &["shared"])
                        } else {
                            p("put", &[&format!("child/{s}"), &i.to_string()])
                        };
                        let c = ledger.submit(proposal).await.unwrap();
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ACK {} {}", c.tx_id, c.block).unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn acknowledged_transactions_survive_sigkill() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::thread_rng();
    let started = Instant::now();
    let mut acked: HashMap<String, u64> = HashMap::new();
    let mut rounds = 0;
    while rounds < MIN_ROUNDS || (rounds < MAX_ROUNDS && started.elapsed() < TIME_BUDGET) {
        rounds += 1;
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill at a random moment after the child is surely submitting.
        let mut seen = Vec::new();
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .expect("child acknowledged nothing within 30 s");
            let first_ack = line.starts_with("ACK ");
            seen.push(line);
            if first_ack {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..300)));
        child.kill().unwrap(); // SIGKILL on Unix.
        child.wait().unwrap();
        reader.join().unwrap();
        seen.extend(lines.try_iter());
        let mut this_round = 0;
        for line in seen {
            let Some(rest) = line.strip_prefix("ACK ") else {
                continue;
            };
            let mut parts = rest.split(' ');
            let (Some(id), Some(block), None) = (parts.next(), parts.next(), parts.next()) else {
                continue; // A line cut by the kill was never fully acknowledged to anyone.
            };
            let Ok(block) = block.parse() else { continue };
            if id.len() == 64 {
                acked.insert(id.to_owned(), block);
                this_round += 1;
            }
        }
        assert!(this_round > 0, "round {rounds}: no acknowledgement parsed");

        let report = verify(dir.path(), &KvContract)
            .unwrap_or_else(|e| panic!("round {rounds}: verify failed after SIGKILL: {e}"));
        let ledger =
            EmbeddedLedger::open(dir.path(), Arc::new(KvContract), EmbeddedOptions::default())
                .unwrap();
        let mut stored = HashMap::new();
        for n in 0..report.blocks {
            for tx in ledger.block(n).unwrap().transactions {
                stored.insert(tx.tx_id, n);
            }
        }
        for (id, block) in &acked {
            assert_eq!(
                stored.get(id),
                Some(block),
                "round {rounds}: acknowledged tx {id} of block {block} lost"
            );
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let height = rt.block_on(ledger.height()).unwrap();
        assert_eq!(height, report.blocks);
        ledger.close();
    }
    eprintln!(
        "crash test: {rounds} rounds, {} acknowledged txs, {:.1} s",
        acked.len(),
        started.elapsed().as_secs_f64()
    );
}
