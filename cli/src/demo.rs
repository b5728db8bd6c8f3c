//! `carechain demo`: the whole story against a relay, printed step by step.
//!
//! The doctor, the insurer and the admin act through [`StaffClient`]; the
//! patient acts through [`PatientClient`] over a core [`Wallet`], exactly
//! what the phone library wraps. Every outcome is checked: a step
//! that does not turn out as it should stops the demo with a non-zero exit.
// A CLI's output is its interface.
#![allow(clippy::print_stdout)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use carechain_client::events::{self, Cursor, EventSink};
use carechain_client::patient::{PolicyCheck, RequestFilter};
use carechain_client::{ClientError, PatientClient, StaffClient, StaffKeys};
use carechain_core::OsRng;
use carechain_core::ids::{ActorId, PolicyId, ProductId, RecordId};
use carechain_core::ledger::{ClaimState, Decision, PolicyStatus, RequestStatus};
use carechain_core::paillier::DEFAULT_MODULUS_BITS;
use carechain_core::protocol::check::CodeCheck;
use carechain_core::protocol::fhir;
use carechain_core::statement::{
    AccessAction, CoveredItem, PublishProduct, RecordCategory, Role, Scope, Treatment,
};
use carechain_core::wallet::Wallet;

use crate::staff::refusal;

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
    pub keys: StaffKeys,
    /// Login email.
    pub email: String,
    /// Login password.
    pub password: zeroize::Zeroizing<String>,
}

/// The phone's event listener: forwards `(id, kind, data)` to the demo.
struct Channel(mpsc::UnboundedSender<(i64, String, String)>);

impl EventSink for Channel {
    fn on_event(&self, id: i64, kind: String, data: serde_json::Value) {
        let _ = self.0.send((id, kind, data.to_string()));
    }
    fn on_connection_changed(&self, _connected: bool) {}
}

/// Aborts the phone's event socket when the demo ends.
struct Subscription(tokio::task::JoinHandle<()>);

impl Drop for Subscription {
    fn drop(&mut self) {
        self.0.abort();
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

/// A step's outcome that is not the `expected` one.
fn unexpected(
    step: u32,
    what: &'static str,
    expected: &str,
    found: impl std::fmt::Debug,
) -> DemoError {
    fail(step, what, format!("expected {expected}, found {found:?}"))
}

/// The local clock, in Unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Signs up a doctor or insurer with fresh keys, has `admin` approve it, and logs it in.
async fn enrol(
    relay_url: &str,
    audience: &str,
    admin: &StaffClient,
    role: Role,
    name: &str,
) -> Result<StaffClient, ClientError> {
    let staff = StaffClient::new(relay_url, audience, StaffKeys::generate(&mut OsRng))?;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let kind = if role == Role::Doctor {
        "doctor"
    } else {
        "insurer"
    };
    let email = format!("{kind}-{}@demo.invalid", &tag[..8]);
    let password = format!("pw-{tag}");
    let account = staff.sign_up(role, &email, &password, name).await?;
    admin.approve_account(&account).await?;
    staff.login(&email, &password).await?;
    Ok(staff)
}

/// Creates the phone's wallet off the async workers, showing the Paillier key search.
async fn create_wallet() -> Result<Wallet, String> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("    {spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    let progress = bar.clone();
    let wallet = tokio::task::spawn_blocking(move || {
        Wallet::create(DEFAULT_MODULUS_BITS, &mut OsRng, &mut |p| {
            progress.set_message(format!(
                "generating the phone's Paillier key: {} candidates tested, {} of 2 primes found",
                p.candidates_tested, p.primes_found
            ));
        })
    })
    .await;
    bar.finish_and_clear();
    wallet
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Runs the story against the relay at `relay_url`; `Ok` only if every step turned out right.
pub async fn run(relay_url: &str, audience: &str, admin: DemoAdmin) -> Result<(), DemoError> {
    let mut s = Steps {
        n: 0,
        started: Instant::now(),
    };
    const ENROL: &str = "enrol staff";
    let n = s.next("The admin enrols a doctor (Dr. Ada Lovelace) and an insurer (Acme Health): accounts signed up, approved, identities registered on the ledger.");
    let staff = StaffClient::new(relay_url, audience, admin.keys).map_err(|e| fail(n, ENROL, e))?;
    staff
        .login(&admin.email, &admin.password)
        .await
        .map_err(|e| fail(n, ENROL, e))?;
    let admin = staff;
    let doctor = enrol(
        relay_url,
        audience,
        &admin,
        Role::Doctor,
        "Dr. Ada Lovelace",
    )
    .await
    .map_err(|e| fail(n, ENROL, e))?;
    let insurer = enrol(relay_url, audience, &admin, Role::Insurer, "Acme Health")
        .await
        .map_err(|e| fail(n, ENROL, e))?;

    const PHONE: &str = "patient's phone";
    let n = s.next("The patient's phone creates a wallet (P-256 and HPKE keys, a 3072-bit Paillier key with its correctness proof) and registers.");
    let wallet = create_wallet().await.map_err(|e| fail(n, PHONE, e))?;
    let phone = PatientClient::new(relay_url, audience, Arc::new(Mutex::new(wallet)))
        .map_err(|e| fail(n, PHONE, e))?;
    let phone = Arc::new(phone);
    phone
        .register("Pat Patient")
        .await
        .map_err(|e| fail(n, PHONE, e))?;
    let patient = phone.actor().map_err(|e| fail(n, PHONE, e))?;
    println!("    patient {patient}");
    let (tx, mut events) = mpsc::unbounded_channel();
    let _subscription = {
        let phone = phone.clone();
        Subscription(tokio::spawn(async move {
            let sink = Channel(tx);
            events::run(phone.session(), &sink, "demo-phone", &Cursor::new(None)).await;
        }))
    };

    const REQUEST: &str = "access request";
    let n = s.next(
        "The doctor asks the patient for read and write access to every record, for 30 days.",
    );
    let request = doctor
        .request_access(carechain_client::doctor::AccessAsk {
            patient: patient.clone(),
            actions: vec![AccessAction::Read, AccessAction::Write],
            scope: Scope::All,
            purpose: carechain_core::statement::PurposeOfUse::Treat,
            duration_secs: 30 * 86_400,
        })
        .await
        .map_err(|e| fail(n, REQUEST, e))?;
    let request_text = request.to_string();

    const PUSH: &str = "push to the phone";
    let n = s.next("The relay pushes the request to the phone over its WebSocket...");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (event_id, kind) = loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some((id, kind, data)))
                if kind == "access_requested" && data.contains(&request_text) =>
            {
                break (id, kind);
            }
            Ok(Some(_)) => continue,
            Ok(None) => return Err(fail(n, PUSH, "the event socket closed")),
            Err(_) => return Err(fail(n, PUSH, "no access_requested event within 20 s")),
        }
    };
    println!("    the phone received event #{event_id} \"{kind}\" for request {request_text}");

    const APPROVE: &str = "approval";
    let n = s.next("The patient approves on the phone: read and write, every category, for 30 days (a grant signed with the phone's key).");
    let pending = phone
        .requests(RequestFilter::Status(RequestStatus::Pending))
        .await
        .map_err(|e| fail(n, APPROVE, e))?;
    if !pending.iter().any(|r| r.request == request) {
        return Err(fail(
            n,
            APPROVE,
            "the request is not among the pending ones",
        ));
    }
    let until = now() + 30 * 86_400;
    phone
        .approve(
            request,
            vec![AccessAction::Read, AccessAction::Write],
            Scope::All,
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
    let record = phone.record(first).await.map_err(|e| fail(n, READ, e))?;
    match &record.code_check {
        CodeCheck::Verified { code } if code.to_string() == "E11.9" => println!(
            "    decrypted: Condition {code}, written by the doctor; encrypted code verified"
        ),
        other => return Err(unexpected(n, READ, "Verified E11.9", other)),
    }

    const BUY: &str = "purchase and issue";
    let n = s.next("The insurer publishes \"Diabetes cover\" (category E11 pays 500.00 EUR); the patient buys it; the insurer accepts it (no ciphertexts: the ledger computes E(E11) = (1+n)^E11 itself).");
    let product = insurer
        .publish_product(PublishProduct {
            product: ProductId::random(&mut OsRng),
            name: "Diabetes cover".into(),
            currency: "EUR".into(),
            premium: 2_000,
            term_days: 365,
            items: vec![CoveredItem {
                code: "E11".into(),
                payout: 50_000,
            }],
        })
        .await
        .map_err(|e| fail(n, BUY, e))?;
    let policy = phone.buy(product).await.map_err(|e| fail(n, BUY, e))?;
    insurer
        .issue_policy(policy)
        .await
        .map_err(|e| fail(n, BUY, e))?;
    let policies = phone.policies().await.map_err(|e| fail(n, BUY, e))?;
    match policies.iter().find(|p| p.state.policy == policy) {
        Some(p) if p.state.status == PolicyStatus::Issued && p.check == PolicyCheck::Computed => {
            println!(
                "    policy {policy} issued without ciphertexts; the ledger computes each E(M_i) \
                 from the product"
            )
        }
        other => return Err(unexpected(n, BUY, "an issued policy", other)),
    }

    const CLAIM: &str = "covered claim";
    let n = s.next("At a visit during the policy term the doctor records E11.65 (type 2 diabetes with hyperglycemia); the phone files a claim with its zero proof.");
    let visit = ("E11.65", "Type 2 diabetes mellitus with hyperglycemia");
    let claim = write_and_claim(&doctor, &phone, policy, visit, false)
        .await
        .map_err(|e| fail(n, CLAIM, e))?;
    match &claim.decision {
        Decision::Approved { payout, currency } if *payout == 50_000 => {
            println!("    claim APPROVED: payout {}", money(*payout, currency))
        }
        other => return Err(unexpected(n, CLAIM, "APPROVED 500.00", other)),
    }

    const PAID: &str = "insurer pays";
    let n = s.next(
        "The insurer sees only the decision (no record, no diagnosis) and marks the claim paid.",
    );
    let seen = insurer.claims().await.map_err(|e| fail(n, PAID, e))?;
    let view = seen
        .iter()
        .find(|c| c.claim == claim.claim)
        .ok_or_else(|| fail(n, PAID, "the claim is not in the insurer's list"))?;
    let text = serde_json::to_string(view).map_err(|e| fail(n, PAID, e))?;
    if text.contains("E11") {
        return Err(fail(
            n,
            PAID,
            "the insurer's view of the claim names the diagnosis",
        ));
    }
    insurer
        .mark_paid(claim.claim, "PAY-0001")
        .await
        .map_err(|e| fail(n, PAID, e))?;
    println!("    claim {} marked paid (reference PAY-0001)", claim.claim);

    const REJECT: &str = "uncovered claim";
    let n = s.next("The doctor records asthma, J45.909, which the policy does not cover; the patient files a claim for it anyway.");
    let asthma = ("J45.909", "Unspecified asthma, uncomplicated");
    let rejected = write_and_claim(&doctor, &phone, policy, asthma, true)
        .await
        .map_err(|e| fail(n, REJECT, e))?;
    match &rejected.decision {
        Decision::Rejected { reason } => {
            let reason = serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{reason:?}"));
            println!("    claim REJECTED by the contract: {reason}")
        }
        other => return Err(unexpected(n, REJECT, "REJECTED", other)),
    }

    const REVOKE: &str = "revocation";
    let n = s.next("The doctor reads the first record (logged on the ledger); then the patient revokes the doctor's access.");
    let read = doctor
        .read_record(first)
        .await
        .map_err(|e| fail(n, REVOKE, e))?;
    if !read.fhir_json.contains("E11.9") {
        return Err(fail(n, REVOKE, "the doctor's decrypted record lacks E11.9"));
    }
    phone
        .revoke(request)
        .await
        .map_err(|e| fail(n, REVOKE, e))?;

    const REFUSED: &str = "revoked doctor";
    let n = s.next("The revoked doctor tries to read the record again, and to write a new one.");
    for (what, outcome) in [
        ("read", doctor.read_record(first).await.map(drop)),
        (
            "write",
            write(&doctor, &patient, "E11.9", "follow-up")
                .await
                .map(drop),
        ),
    ] {
        match outcome {
            Ok(()) => {
                return Err(fail(
                    n,
                    REFUSED,
                    format!("the revoked doctor's {what} succeeded"),
                ));
            }
            Err(e) => match refusal(&e) {
                Some(r) => {
                    let code = r.code.map(|c| format!(" [{c}]")).unwrap_or_default();
                    println!("    {what} refused: {} {}{code}", r.status, r.title);
                }
                None => return Err(fail(n, REFUSED, format!("expected a refusal, found {e}"))),
            },
        }
    }
    println!(
        "Demo complete: every step turned out as it should ({:.1} s).",
        s.started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The doctor records a visit (ICD-10-CM code, text) for the phone's patient,
/// and the phone files a claim on it under `policy` (even if uncovered, when
/// `anyway`): the contract's decision.
async fn write_and_claim(
    doctor: &StaffClient,
    phone: &PatientClient,
    policy: PolicyId,
    (code, text): (&str, &str),
    anyway: bool,
) -> Result<ClaimState, ClientError> {
    let record = write(doctor, &phone.actor()?, code, text).await?;
    phone.file_claim(policy, record, anyway).await
}

/// What each visit of the demo is billed: 800.00 EUR.
const VISIT_BILLED: u64 = 80_000;

/// The doctor writes a minimal FHIR Condition with ICD-10-CM `code` for `patient`.
async fn write(
    doctor: &StaffClient,
    patient: &ActorId,
    code: &str,
    text: &str,
) -> Result<RecordId, ClientError> {
    let doc = fhir::condition(patient.as_str(), code, text).to_string();
    let visit = Treatment {
        date_of_service: now(),
        billed: VISIT_BILLED,
        currency: "EUR".into(),
    };
    doctor
        .write_record(patient, RecordCategory::General, &doc, &visit)
        .await
}
