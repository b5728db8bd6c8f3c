//! The exclusive directory lock: a second open of an open ledger's directory
//! fails at once naming the directory, from this process or another, and the
//! lock goes away with the ledger (drop, close, or the process dying).
//!
//! The other process is this test binary itself, re-run on `lock_child` with
//! an environment variable naming the directory; it opens the ledger, prints
//! `LOCK-CHILD-OPEN` and waits until its stdin closes.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use carechain_ledger::{EmbeddedLedger, Ledger as _, LedgerError};
use common::{KvContract, open, options, p};

const CHILD_ENV: &str = "CARECHAIN_LEDGER_LOCK_CHILD_DIR";

fn try_open(dir: &std::path::Path) -> Result<EmbeddedLedger, LedgerError> {
    EmbeddedLedger::open(dir, Arc::new(KvContract), options())
}

fn assert_locked(result: Result<EmbeddedLedger, LedgerError>, dir: &std::path::Path) {
    let err = match result {
        Err(e) => e,
        Ok(_) => panic!("expected Locked, the second open succeeded"),
    };
    let LedgerError::Locked { dir: named } = &err else {
        panic!("expected Locked, found {err}");
    };
    assert_eq!(named, &std::path::absolute(dir).unwrap());
    let text = err.to_string();
    assert!(
        text.contains(&dir.display().to_string()) && text.contains("in use"),
        "{text}"
    );
}

#[tokio::test]
async fn a_second_open_in_the_same_process_fails_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    first.submit(p("put", &["a", "1"])).await.unwrap();

    let started = Instant::now();
    assert_locked(try_open(dir.path()), dir.path());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the second open must fail at once, not wait for the lock"
    );
    // A failed open leaves the first ledger working.
    first.submit(p("put", &["a", "2"])).await.unwrap();

    drop(first);
    let second = try_open(dir.path()).unwrap();
    let c = second.submit(p("put", &["a", "3"])).await.unwrap();
    assert_eq!(c.payload, b"2");
    second.close();
    try_open(dir.path()).unwrap().close();
}

#[tokio::test]
async fn other_directories_are_not_affected() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let first = open(a.path());
    let second = open(b.path());
    assert_eq!(first.height().await.unwrap(), 1);
    assert_eq!(second.height().await.unwrap(), 1);
}

/// The child: holds the ledger open until its stdin closes.
#[test]
fn lock_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return; // Only meaningful when re-run by the parent.
    };
    let ledger = try_open(dir.as_ref()).unwrap();
    // The harness prints `test lock_child ... ` before this on the same line.
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nLOCK-CHILD-OPEN").unwrap();
    out.flush().unwrap();
    drop(out);
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(ledger);
}

#[test]
fn a_second_open_from_another_process_fails_until_it_exits() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["lock_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let opened = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.ends_with("LOCK-CHILD-OPEN"));
    assert!(opened, "the child did not open the ledger");

    assert_locked(try_open(dir.path()), dir.path());

    child.kill().unwrap(); // SIGKILL: the OS releases the lock of a dead process.
    child.wait().unwrap();
    try_open(dir.path()).unwrap().close();
}
