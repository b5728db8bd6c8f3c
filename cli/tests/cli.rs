//! The real `carechain` binary against a relay the test starts: the demo,
//! FHIR validation before anything is sent, a wrong keystore passphrase, and
//! a doctor without a write grant refused by the relay.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use carechain_client::PatientClient;
use carechain_client::patient::RequestFilter;
use carechain_core::ledger::RequestStatus;
use carechain_core::statement::{AccessAction, Scope};
use carechain_core::wallet::Wallet;

const PASSPHRASE: &str = "doctor-keystore-pass";
const ADMIN_PASSPHRASE: &str = "admin-keystore-pass";
const ADMIN_PASSWORD: &str = "admin-password-1";

fn carechain(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_carechain"));
    cmd.current_dir(dir)
        .env_remove("CARECHAIN_RELAY_URL")
        .env_remove("CARECHAIN_KEYSTORE")
        .env_remove("CARECHAIN_EMAIL")
        .env("CARECHAIN_ADMIN_PASSPHRASE", ADMIN_PASSPHRASE)
        .env("CARECHAIN_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(Stdio::null());
    cmd
}

fn run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let out = carechain(dir)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    eprintln!(
        "$ carechain {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `carechain sandbox` running in the background, killed on drop.
struct Sandbox {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
    /// The sandbox's stdout, kept open: closing it would make the
    /// sandbox's next line fail with a broken pipe and end the relay.
    _stdout: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Sandbox {
    fn start() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("relay");
        let mut child = carechain(dir.path())
            .args(["sandbox", "--dir", data.to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("sandbox exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("relay listening on ") {
                break url.to_owned();
            }
        };
        Sandbox {
            child,
            url,
            dir,
            _stdout: lines,
        }
    }
}

impl Drop for Sandbox {
    /// SIGTERM, so the sandbox stops the relay it spawned (a SIGKILL would
    /// leave that child running).
    fn drop(&mut self) {
        let term = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        if !term.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

#[test]
fn the_demo_runs_the_whole_story_on_a_temporary_relay() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["demo"], &[]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    for line in [
        "the phone received event",
        "encrypted code verified",
        "claim APPROVED: payout 500.00 EUR",
        "claim REJECTED by the contract",
        "read refused: 404",
        "write refused: 40",
        "Demo complete",
    ] {
        assert!(stdout.contains(line), "missing {line:?}");
    }
}

#[test]
fn the_demo_runs_against_a_given_relay_with_its_admin_keystore() {
    let relay = Sandbox::start();
    let keystore = relay.dir.path().join("relay/admin.keystore");
    let args = [
        "demo",
        "--relay",
        &relay.url,
        "--admin-keystore",
        keystore.to_str().unwrap(),
    ];
    let out = run(relay.dir.path(), &args, &[]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(stdout.contains("claim APPROVED"));
    assert!(stdout.contains("claim REJECTED"));
    let wrong = run(
        relay.dir.path(),
        &args,
        &[("CARECHAIN_ADMIN_PASSPHRASE", "not-the-passphrase")],
    );
    assert!(!wrong.status.success());
    assert!(text(&wrong).1.contains("wrong passphrase"));
}

fn write_file(dir: &Path, name: &str, json: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, json).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn invalid_fhir_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens here: any attempt to call the relay would fail differently.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let patient = "p".repeat(43);
    let condition = |code: &str| {
        format!(
            r#"{{"resourceType":"Condition","code":{{"coding":[{{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"{code}"}}]}}}}"#
        )
    };
    let cases = [
        ("bad-code.json", condition("1E1.9"), "Condition.code"),
        (
            "patient.json",
            r#"{"resourceType":"Patient"}"#.to_owned(),
            "expected resourceType \"Condition\" or \"Bundle\", found \"Patient\"",
        ),
        (
            "no-code.json",
            r#"{"resourceType":"Condition","code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]}}"#.to_owned(),
            "expected a coding with system http://hl7.org/fhir/sid/icd-10-cm",
        ),
    ];
    for (name, json, expected) in cases {
        let file = write_file(dir.path(), name, &json);
        let out = run(
            dir.path(),
            &[
                "--relay", &dead, "doctor", "write", &patient, &file, "--billed", "12000",
            ],
            &[],
        );
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{name} was accepted");
        assert!(
            stderr.contains("invalid FHIR record, nothing was sent"),
            "{name}"
        );
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
}

#[test]
fn a_wrong_keystore_passphrase_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pass = [("CARECHAIN_PASSPHRASE", PASSPHRASE)];
    let init = run(dir.path(), &["doctor", "init"], &pass);
    assert!(init.status.success());
    let who = run(dir.path(), &["doctor", "whoami"], &pass);
    assert!(who.status.success());
    let actor = text(&who).0.trim().to_owned();
    assert!(!actor.is_empty());
    assert!(text(&init).0.contains(&format!("for actor {actor}")));
    let wrong = run(
        dir.path(),
        &["doctor", "whoami"],
        &[("CARECHAIN_PASSPHRASE", "wrong passphrase!")],
    );
    assert!(!wrong.status.success());
    let (stdout, stderr) = text(&wrong);
    assert!(
        stderr.contains("wrong passphrase or damaged file"),
        "{stderr}"
    );
    assert!(!stdout.contains(&actor));
    assert!(
        !stderr.contains("wrong passphrase!"),
        "the passphrase was echoed"
    );
    // A second init never overwrites the keystore.
    let again = run(dir.path(), &["doctor", "init"], &pass);
    assert!(!again.status.success());
    assert!(text(&again).1.contains("refusing to overwrite"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_doctor_without_a_write_grant_is_refused_by_the_relay() {
    let relay = Sandbox::start();
    let dir = relay.dir.path().to_owned();
    let url = relay.url.clone();
    let admin_ks = dir.join("relay/admin.keystore");
    let admin_ks = admin_ks.to_str().unwrap().to_owned();
    let go = move |args: Vec<String>, envs: Vec<(&'static str, String)>| {
        let dir = dir.clone();
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut full = vec!["--relay".to_owned(), url];
                full.extend(args);
                let refs: Vec<&str> = full.iter().map(String::as_str).collect();
                let env_refs: Vec<(&str, &str)> =
                    envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                run(&dir, &refs, &env_refs)
            })
            .await
            .unwrap()
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let doc_env = || {
        vec![
            ("CARECHAIN_PASSPHRASE", PASSPHRASE.to_owned()),
            ("CARECHAIN_PASSWORD", "doctor-password-1".to_owned()),
        ]
    };
    let admin_env = || {
        vec![
            ("CARECHAIN_PASSPHRASE", ADMIN_PASSPHRASE.to_owned()),
            ("CARECHAIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
            ("CARECHAIN_KEYSTORE", admin_ks.clone()),
        ]
    };
    assert!(go(s(&["doctor", "init"]), doc_env()).await.status.success());
    let signup = go(
        s(&[
            "doctor",
            "register",
            "--email",
            "doc@example.org",
            "--name",
            "Dr. Who",
        ]),
        doc_env(),
    )
    .await;
    assert!(signup.status.success());
    let (stdout, _) = text(&signup);
    let account = stdout
        .split_whitespace()
        .skip_while(|w| *w != "account")
        .nth(1)
        .unwrap()
        .to_owned();
    // Before approval the doctor cannot log in.
    let early = go(
        s(&["doctor", "login", "--email", "doc@example.org"]),
        doc_env(),
    )
    .await;
    assert!(!early.status.success());
    assert!(
        text(&early)
            .1
            .contains("the relay refused POST /v1/auth/login")
    );
    let login = go(
        s(&["admin", "login", "--email", "admin@example.org"]),
        admin_env(),
    )
    .await;
    assert!(login.status.success());
    let pending = go(
        s(&["admin", "accounts", "--status", "pending"]),
        admin_env(),
    )
    .await;
    assert!(text(&pending).0.contains(&account));
    assert!(
        go(s(&["admin", "approve", &account]), admin_env())
            .await
            .status
            .success()
    );
    assert!(
        go(
            s(&["doctor", "login", "--email", "doc@example.org"]),
            doc_env()
        )
        .await
        .status
        .success()
    );

    // The patient, on the client the phone library wraps, grants read access only.
    let wallet = tokio::task::spawn_blocking(|| {
        Wallet::create(
            carechain_core::paillier::DEFAULT_MODULUS_BITS,
            &mut carechain_core::OsRng,
            &mut |_| {},
        )
    })
    .await
    .unwrap()
    .unwrap();
    let phone = PatientClient::new(&relay.url, "carechain", Arc::new(Mutex::new(wallet))).unwrap();
    phone.register("Pat").await.unwrap();
    let patient = phone.actor().unwrap().to_string();
    let request = go(
        s(&["doctor", "request", &patient, "--read-only"]),
        doc_env(),
    )
    .await;
    assert!(request.status.success());
    let pending = phone
        .requests(RequestFilter::Status(RequestStatus::Pending))
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 86_400;
    phone
        .approve(
            pending[0].request,
            vec![AccessAction::Read],
            Scope::All,
            until,
        )
        .await
        .unwrap();
    let grants = go(s(&["doctor", "grants", "--status", "granted"]), doc_env()).await;
    assert!(text(&grants).0.contains(&pending[0].request.to_string()));

    let file = write_file(
        relay.dir.path(),
        "condition.json",
        &format!(
            r#"{{"resourceType":"Condition","subject":{{"reference":"Patient/{patient}"}},"code":{{"coding":[{{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"E11.9"}}]}}}}"#
        ),
    );
    let write = go(
        s(&["doctor", "write", &patient, &file, "--billed", "12000"]),
        doc_env(),
    )
    .await;
    let (_, stderr) = text(&write);
    assert!(!write.status.success());
    assert!(stderr.contains("the relay refused"), "{stderr}");
    assert!(stderr.contains("403") || stderr.contains("404"), "{stderr}");
    assert!(
        phone.records().await.unwrap().is_empty(),
        "a record was written"
    );
    let audit = go(s(&["admin", "audit"]), admin_env()).await;
    assert!(text(&audit).0.contains("grant"));
}
