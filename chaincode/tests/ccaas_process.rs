//! The `carechain-chaincode` process as an operator runs it: configured by
//! the environment, refusing a bad configuration with exit code 2, and
//! stopping gracefully (exit 0) on SIGTERM, which `docker stop`, Kubernetes
//! and systemd send.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carechain-chaincode"));
    command
        .env_clear()
        .env("CORE_CHAINCODE_ID_NAME", "carechain_1.0:abc")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// A port free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let port = free_port();
    let mut child = server()
        .env("CHAINCODE_SERVER_ADDRESS", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("serving carechain_1.0:abc"), "{line}");
    // The server accepts connections before it is told to stop.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        status.code(),
        Some(0),
        "a graceful stop exits 0: {status:?}"
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(rest.contains("stopping"), "{rest}");
}

#[test]
fn a_bad_address_is_refused_with_exit_code_2_and_says_what_was_expected() {
    let output = server()
        .env("CHAINCODE_SERVER_ADDRESS", "localhost")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CHAINCODE_SERVER_ADDRESS: expected host:port"),
        "{stderr}"
    );
}
