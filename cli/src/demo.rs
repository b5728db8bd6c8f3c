//! `carechain demo`: the whole story against a relay, printed step by step.
//!
//! The doctor, the insurer and the admin act through this crate's roles; the
//! patient acts through `carechain-mobile`'s Rust API (its `Wallet` and
//! `RelayClient`), exactly as a phone does. Every outcome is checked: a step
//! that does not turn out as it should stops the demo with a non-zero exit.
// A CLI's output is its interface.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use carechain_api::keystore::AdminKeys;
use carechain_core::OsRng;
use carechain_core::statement::AccessAction;
use carechain_mobile::{
    AccessKind, ClaimDecision, CodeCheck, EventListener, KeygenProgress, KeygenProgressListener,
    PolicyCheck, RelayClient, RelayEvent, create_wallet,
};

use crate::fhir;
use crate::relay::{Relay, RelayError};
use crate::roles::insurer::NewProduct;
use crate::roles::{ActionError, Staff, StaffRole, signup};

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A step failed or turned out differently than it should.
    #[error("step {step} ({what}) failed: {reason}")]
    Step {
        /// The step number.
        step: u32,
        /// What the step does.
        what: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// The admin the demo enrols staff with.
pub struct DemoAdmin {
    /// The admin's keys.
    pub keys: AdminKeys,
    /// Login email.
    pub email: String,
    /// Login password.
    pub password: zeroize::Zeroizing<String>,
}

struct Channel(mpsc::UnboundedSender<RelayEvent>);

impl EventListener for Channel {
    fn on_event(&self, event: RelayEvent) {
        let _ = self.0.send(event);
    }
    fn on_connection_changed(&self, _connected: bool) {}
}

struct Keygen(ProgressBar);

impl KeygenProgressListener for Keygen {
    fn on_progress(&self, progress: KeygenProgress) {
        self.0.set_message(format!(
            "generating the phone's Paillier key: {} candidates tested, {} of 2 primes found",
            progress.candidates_tested, progress.primes_found
        ));
    }
}

fn money(minor: u64, currency: &str) -> String {
    format!("{}.{:02} {currency}", minor / 100, minor % 100)
}

/// The step counter and the demo's start time.
struct Steps {
    n: u32,
    started: Instant,
}

impl Steps {
    fn next(&mut self, text: &str) -> u32 {
        self.n += 1;
        println!("{:>2}. {text}", self.n);
        self.n
    }
}

fn fail(step: u32, what: &'static str, reason: impl std::fmt::Display) -> DemoError {
    DemoError::Step {
        step,
        what,
        reason: reason.to_string(),
    }
}

async fn enrol(
    relay_url: &str,
    audience: &str,
    admin: &Staff,
    role: StaffRole,
    name: &str,
) -> Result<Staff, ActionError> {
    let keys = AdminKeys::generate(&mut OsRng);
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("{}-{}@demo.invalid", role.as_str(), &tag[..8]);
    let password = format!("pw-{tag}");
    let mut relay = Relay::new(relay_url)?;
    let id = signup(&relay, &keys, role, &email, &password, name).await?;
    admin.approve(&id).await?;
    let (access, _) = relay.password_login(&email, &password).await?;
    relay.set_token(access);
    Ok(Staff {
        relay,
        keys,
        audience: audience.to_owned(),
    })
}

/// Runs the story against the relay at `relay_url`; `Ok` only if every step turned out right.
pub async fn run(relay_url: &str, audience: &str, admin: DemoAdmin) -> Result<(), DemoError> {
    let mut s = Steps {
        n: 0,
        started: Instant::now(),
    };
    const ENROL: &str = "enrol staff";
    let n = s.next("The admin enrols a doctor (Dr. Ada Lovelace) and an insurer (Acme Health): accounts signed up, approved, identities registered on the ledger.");
    let mut admin_relay = Relay::new(relay_url).map_err(|e| fail(n, ENROL, e))?;
    let (access, _) = admin_relay
        .password_login(&admin.email, &admin.password)
        .await
        .map_err(|e| fail(n, ENROL, e))?;
    admin_relay.set_token(access);
    let admin = Staff {
        relay: admin_relay,
        keys: admin.keys,
        audience: audience.to_owned(),
    };
    let doctor = enrol(
        relay_url,
        audience,
        &admin,
        StaffRole::Doctor,
        "Dr. Ada Lovelace",
    )
    .await
    .map_err(|e| fail(n, ENROL, e))?;
    let insurer = enrol(
        relay_url,
        audience,
        &admin,
        StaffRole::Insurer,
        "Acme Health",
    )
    .await
    .map_err(|e| fail(n, ENROL, e))?;

    const PHONE: &str = "patient's phone";
    let n = s.next("The patient's phone creates a wallet (P-256 and HPKE keys, a 3072-bit Paillier key with its correctness proof) and registers.");
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("    {spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    let wallet = create_wallet(Arc::new(Keygen(bar.clone()))).await;
    bar.finish_and_clear();
    let wallet = wallet.map_err(|e| fail(n, PHONE, e))?;
    let phone = RelayClient::new(relay_url.to_owned(), audience.to_owned(), wallet.clone())
        .map_err(|e| fail(n, PHONE, e))?;
    phone
        .register("Pat Patient".into())
        .await
        .map_err(|e| fail(n, PHONE, e))?;
    let patient = wallet.actor_id().map_err(|e| fail(n, PHONE, e))?;
    println!("    patient {patient}");
    let (tx, mut events) = mpsc::unbounded_channel();
    let _subscription = phone
        .subscribe_events(Arc::new(Channel(tx)), "demo-phone".into(), None)
        .map_err(|e| fail(n, PHONE, e))?;

    const REQUEST: &str = "access request";
    let n = s.next(
        "The doctor asks the patient for read and write access to every record, for 30 days.",
    );
    let request = doctor
        .request_access(&patient, vec![AccessAction::Read, AccessAction::Write], 30)
        .await
        .map_err(|e| fail(n, REQUEST, e))?;

    const PUSH: &str = "push to the phone";
    let n = s.next("The relay pushes the request to the phone over its WebSocket...");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let event = loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(e)) if e.kind == "access_requested" && e.data_json.contains(&request) => {
                break e;
            }
            Ok(Some(_)) => continue,
            Ok(None) => return Err(fail(n, PUSH, "the event socket closed")),
            Err(_) => return Err(fail(n, PUSH, "no access_requested event within 20 s")),
        }
    };
    println!(
        "    the phone received event #{} \"{}\" for request {request}",
        event.id, event.kind
    );

    const APPROVE: &str = "approval";
    let n = s.next("The patient approves on the phone: read and write, every category, for 30 days (a grant signed with the phone's key).");
    let pending = phone
        .pending_requests()
        .await
        .map_err(|e| fail(n, APPROVE, e))?;
    if !pending.iter().any(|r| r.request_id == request) {
        return Err(fail(
            n,
            APPROVE,
            "the request is not among the pending ones",
        ));
    }
    let until = crate::relay::now() + 30 * 86_400;
    phone
        .approve(
            request.clone(),
            vec![AccessKind::Read, AccessKind::Write],
            None,
            until,
        )
        .await
        .map_err(|e| fail(n, APPROVE, e))?;

    const WRITE: &str = "write a record";
    let n = s.next("The doctor writes a record: a FHIR Condition, ICD-10-CM E11.9 (type 2 diabetes), encrypted on the doctor's machine to the patient and the doctor, with E(code) under the patient's Paillier key.");
    let first = write(
        &doctor,
        &patient,
        "E11.9",
        "Type 2 diabetes mellitus without complications",
    )
    .await
    .map_err(|e| fail(n, WRITE, e))?;

    const READ: &str = "patient reads";
    let n = s
        .next("The phone fetches and decrypts the record, and checks E(code) against the payload.");
    let record = phone
        .record(first.clone())
        .await
        .map_err(|e| fail(n, READ, e))?;
    match &record.code_check {
        CodeCheck::Verified { code } if code == "E11.9" => println!(
            "    decrypted: Condition {code}, written by the doctor; encrypted code verified"
        ),
        other => {
            return Err(fail(
                n,
                READ,
                format!("expected Verified E11.9, found {other:?}"),
            ));
        }
    }

    const BUY: &str = "purchase and issue";
    let n = s.next("The insurer publishes \"Diabetes cover\" (category E11 pays 500.00 EUR); the patient buys it; the insurer issues it with E(E11) under the patient's key.");
    let product = insurer
        .publish(&NewProduct {
            name: "Diabetes cover".into(),
            currency: "EUR".into(),
            premium: 2_000,
            term_days: 365,
            items: vec![("E11".into(), 50_000)],
        })
        .await
        .map_err(|e| fail(n, BUY, e))?;
    let policy = phone.purchase(product).await.map_err(|e| fail(n, BUY, e))?;
    insurer.issue(&policy).await.map_err(|e| fail(n, BUY, e))?;
    let policies = phone.policies().await.map_err(|e| fail(n, BUY, e))?;
    match policies.iter().find(|p| p.policy_id == policy) {
        Some(p) if p.issued && p.check == PolicyCheck::Verified => {
            println!("    policy {policy} issued; the phone verified the insurer's E(M_i)")
        }
        other => {
            return Err(fail(
                n,
                BUY,
                format!("expected an issued, verified policy, found {other:?}"),
            ));
        }
    }

    const CLAIM: &str = "covered claim";
    let n = s.next("At a visit during the policy term the doctor records E11.65 (type 2 diabetes with hyperglycemia); the phone files a claim with its zero proof.");
    let visit = write(
        &doctor,
        &patient,
        "E11.65",
        "Type 2 diabetes mellitus with hyperglycemia",
    )
    .await
    .map_err(|e| fail(n, CLAIM, e))?;
    let claim = phone
        .file_claim(policy.clone(), visit, false)
        .await
        .map_err(|e| fail(n, CLAIM, e))?;
    match &claim.decision {
        ClaimDecision::Approved { payout, currency } if *payout == 50_000 => {
            println!("    claim APPROVED: payout {}", money(*payout, currency))
        }
        other => {
            return Err(fail(
                n,
                CLAIM,
                format!("expected APPROVED 500.00, found {other:?}"),
            ));
        }
    }

    const PAID: &str = "insurer pays";
    let n = s.next(
        "The insurer sees only the decision (no record, no diagnosis) and marks the claim paid.",
    );
    let seen = insurer.claims().await.map_err(|e| fail(n, PAID, e))?;
    let view = seen
        .iter()
        .find(|c| c["claim"].as_str() == Some(claim.claim_id.as_str()))
        .ok_or_else(|| fail(n, PAID, "the claim is not in the insurer's list"))?;
    let text = view.to_string();
    if text.contains("E11") {
        return Err(fail(
            n,
            PAID,
            "the insurer's view of the claim names the diagnosis",
        ));
    }
    insurer
        .mark_paid(&claim.claim_id, "PAY-0001")
        .await
        .map_err(|e| fail(n, PAID, e))?;
    println!(
        "    claim {} marked paid (reference PAY-0001)",
        claim.claim_id
    );

    const REJECT: &str = "uncovered claim";
    let n = s.next("The doctor records asthma, J45.909, which the policy does not cover; the patient files a claim for it anyway.");
    let asthma = write(
        &doctor,
        &patient,
        "J45.909",
        "Unspecified asthma, uncomplicated",
    )
    .await
    .map_err(|e| fail(n, REJECT, e))?;
    let rejected = phone
        .file_claim(policy, asthma, true)
        .await
        .map_err(|e| fail(n, REJECT, e))?;
    match &rejected.decision {
        ClaimDecision::Rejected { reason } => {
            println!("    claim REJECTED by the contract: {reason}")
        }
        other => {
            return Err(fail(
                n,
                REJECT,
                format!("expected REJECTED, found {other:?}"),
            ));
        }
    }

    const REVOKE: &str = "revocation";
    let n = s.next("The doctor reads the first record (logged on the ledger); then the patient revokes the doctor's access.");
    let fhir_json = doctor
        .read_record(&first)
        .await
        .map_err(|e| fail(n, REVOKE, e))?;
    if !fhir_json.contains("E11.9") {
        return Err(fail(n, REVOKE, "the doctor's decrypted record lacks E11.9"));
    }
    phone
        .revoke(request)
        .await
        .map_err(|e| fail(n, REVOKE, e))?;

    const REFUSED: &str = "revoked doctor";
    let n = s.next("The revoked doctor tries to read the record again, and to write a new one.");
    for (what, outcome) in [
        ("read", doctor.read_record(&first).await.map(|_| ())),
        (
            "write",
            write(&doctor, &patient, "E11.9", "follow-up")
                .await
                .map(|_| ()),
        ),
    ] {
        match outcome {
            Err(ActionError::Relay(RelayError::Refused {
                status,
                title,
                code,
                ..
            })) => {
                println!("    {what} refused: {status} {title} [{code}]")
            }
            Ok(()) => {
                return Err(fail(
                    n,
                    REFUSED,
                    format!("the revoked doctor's {what} succeeded"),
                ));
            }
            Err(e) => return Err(fail(n, REFUSED, format!("expected a refusal, found {e}"))),
        }
    }
    println!(
        "Demo complete: every step turned out as it should ({:.1} s).",
        s.started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn write(
    doctor: &Staff,
    patient: &str,
    code: &str,
    text: &str,
) -> Result<String, ActionError> {
    let doc = fhir::condition(patient, code, text).to_string();
    let valid = fhir::validate(&doc, patient)?;
    doctor
        .write_record(
            patient,
            &valid,
            carechain_core::statement::RecordCategory::General,
        )
        .await
}
