//! The `carechain-relay` binary: `init`, `verify-ledger`, `serve` and its
//! graceful shutdown on SIGTERM, and the README's one-command first start.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use carechain_api::keystore::AdminKeys;

fn relay(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_carechain-relay"));
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("CARECHAIN_ADMIN_PASSPHRASE", "keystore-passphrase")
        .env("CARECHAIN_ADMIN_PASSWORD", "admin-password-1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A free loopback port.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `cmd` serving on `port` with one worker.
fn spawn_on(mut cmd: Command, port: u16) -> Child {
    cmd.env("CARECHAIN_LISTEN", format!("127.0.0.1:{port}"))
        .env("CARECHAIN_WORKERS", "1")
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Polls `/readyz` on `port` until it answers (its whole reply), failing
/// if `server` exits first or `within` passes.
fn wait_ready(server: &mut Child, port: u16, within: Duration, what: &str) -> String {
    let start = Instant::now();
    loop {
        if let Some(reply) = get(port, "/readyz") {
            return reply;
        }
        if let Some(status) = server.try_wait().unwrap() {
            panic!("{what}: the relay exited early: {status:?}");
        }
        assert!(start.elapsed() < within, "{what}: the relay did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends SIGTERM to `server`.
fn terminate(server: &Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap()
}

#[test]
fn init_verify_serve_and_shut_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let init = relay(dir.path())
        .args(["init", "--admin-email", "admin@example.org"])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stdout)
    );
    let sealed = std::fs::read(dir.path().join("data/admin.keystore")).unwrap();
    assert!(AdminKeys::open(&sealed, "keystore-passphrase").is_ok());
    assert!(AdminKeys::open(&sealed, "wrong").is_err());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for file in ["data/admin.keystore", "data/jwt-secret"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
    let again = relay(dir.path())
        .args(["admin", "create", "--admin-email", "b@example.org"])
        .output()
        .unwrap();
    assert!(!again.status.success(), "a second init must fail");
    let verify = relay(dir.path()).arg("verify-ledger").output().unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    let port = free_port();
    let mut serve = relay(dir.path());
    serve.arg("serve");
    let mut server = spawn_on(serve, port);
    let health = wait_ready(&mut server, port, Duration::from_secs(30), "serve");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let metrics = get(port, "/metrics").unwrap();
    assert!(
        metrics.contains("carechain_relay_http_requests_total"),
        "{metrics}"
    );
    assert!(terminate(&server).success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no graceful shutdown"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
}

/// The README's run command: no subcommand, an admin email in the
/// environment, an empty data dir → genesis, then serving; a restart reuses it.
#[test]
fn first_start_without_subcommand_initialises_then_serves() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    for round in 0..2 {
        let mut first_start = relay(dir.path());
        first_start.env("CARECHAIN_ADMIN_EMAIL", "admin@example.org");
        let mut server = spawn_on(first_start, port);
        let what = format!("round {round}");
        let ready = wait_ready(&mut server, port, Duration::from_secs(60), &what);
        assert!(ready.starts_with("HTTP/1.1 200"), "round {round}: {ready}");
        let sealed = std::fs::read(dir.path().join("data/admin.keystore")).unwrap();
        assert!(AdminKeys::open(&sealed, "keystore-passphrase").is_ok());
        terminate(&server);
        let status = server.wait().unwrap();
        assert!(status.success(), "round {round}: {status:?}");
    }
    let verify = relay(dir.path()).arg("verify-ledger").output().unwrap();
    assert!(verify.status.success());
}
