//! `carechain`: the CLI of CareChain's doctors, insurers and admins, and
//! `carechain demo`, the whole story against a relay.
//!
//! Keys stay in a local keystore sealed with argon2id; every statement is
//! signed and every record encrypted here; the relay's HTTP API only carries
//! public keys, ciphertext and signed statements. See `cli/README.md`.
// A CLI's output is its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod demo;
mod keystore;
mod local;
mod staff;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser as _;
use serde_json::json;

use args::{Account, AdminCommand, Cli, Command, Common, DoctorCommand, InsurerCommand, Register};
use carechain_client::StaffClient;
use carechain_client::doctor::AccessAsk;
use carechain_core::OsRng;
use carechain_core::icd10::Icd10Code;
use carechain_core::ids::{ActorId, ClaimId, PolicyId, ProductId, RecordId};
use carechain_core::protocol::fhir::{self, FhirError};
use carechain_core::statement::{
    AccessAction, CoveredItem, PublishProduct, PurposeOfUse, Role, Scope, Treatment,
};
use keystore::{Session, StoreError};
use staff::{At as _, RelayError, parse_id};

/// Any failure of a command, printed on stderr.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// The keystore or session.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The relay.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// The FHIR document was refused before anything was sent.
    #[error("invalid FHIR record, nothing was sent: {0}")]
    Fhir(#[from] FhirError),
    /// An argument is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The demo.
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    /// The temporary relay.
    #[error(transparent)]
    Local(#[from] local::LocalError),
    /// A file could not be read.
    #[error("{0}")]
    File(String),
}

const PASSPHRASE: &str = "CARECHAIN_PASSPHRASE";
const PASSWORD: &str = "CARECHAIN_PASSWORD";
const ADMIN_PASSPHRASE: &str = "CARECHAIN_ADMIN_PASSPHRASE";
const ADMIN_PASSWORD: &str = "CARECHAIN_ADMIN_PASSWORD";

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("cannot print the answer: {e}"),
    }
}

/// Prints an answer: `text` for people, or `value` as JSON with `--json`.
fn say(cli: &Cli, text: impl std::fmt::Display, value: &impl serde::Serialize) {
    if cli.json {
        print_json(value);
    } else {
        println!("{text}");
    }
}

/// How a ledger answer names its transaction in the CLI's output.
fn ledger_tx(tx_id: &str) -> String {
    if tx_id.is_empty() {
        "already on the ledger".to_owned()
    } else {
        format!("ledger tx {tx_id}")
    }
}

fn client(cli: &Cli, keys: carechain_client::StaffKeys) -> Result<StaffClient, CliError> {
    StaffClient::new(&cli.relay, &cli.audience, keys)
        .map_err(|e| CliError::Invalid(format!("relay URL: {e}")))
}

/// Keystore and session commands.
async fn common(cli: &Cli, keystore: &Path, common: &Common) -> Result<(), CliError> {
    match common {
        Common::Init => {
            let keys = keystore::create(keystore, PASSPHRASE)?;
            let actor = keys.signing.actor_id();
            say(
                cli,
                format!("created {} for actor {actor}", keystore.display()),
                &json!({ "keystore": keystore, "actor": actor }),
            );
        }
        Common::Whoami => {
            let actor = keystore::open(keystore, PASSPHRASE)?.signing.actor_id();
            say(cli, &actor, &json!({ "actor": actor }));
        }
        Common::Login { email } => {
            let keys = keystore::open(keystore, PASSPHRASE)?;
            let password = keystore::secret(PASSWORD, "Login password: ")?;
            let staff = client(cli, keys)?;
            staff
                .login(email, &password)
                .await
                .at("POST /v1/auth/login")?;
            save_session(cli, keystore, email, &staff)?;
            say(
                cli,
                format!("logged in to {} as {email}", cli.relay),
                &json!({ "relay": cli.relay, "email": email }),
            );
        }
    }
    Ok(())
}

/// Keeps `staff`'s rotating refresh token beside `keystore`.
fn save_session(
    cli: &Cli,
    keystore: &Path,
    email: &str,
    staff: &StaffClient,
) -> Result<(), CliError> {
    let refresh_token = staff.session().refresh_token().ok_or_else(|| {
        CliError::Invalid("the relay issued no refresh token to keep the login".into())
    })?;
    let session = Session {
        relay: cli.relay.clone(),
        email: email.to_owned(),
        refresh_token,
    };
    Ok(keystore::save_session(keystore, &session)?)
}

/// Opens the keystore and resumes its session (rotating the refresh token).
async fn staff(cli: &Cli, keystore: &Path) -> Result<StaffClient, CliError> {
    let keys = keystore::open(keystore, PASSPHRASE)?;
    let session = keystore::load_session(keystore)?;
    if session.relay != cli.relay {
        return Err(CliError::File(format!(
            "logged in to {}, not {}: run `login` again",
            session.relay, cli.relay
        )));
    }
    let staff = client(cli, keys)?;
    staff
        .session()
        .resume(&session.refresh_token)
        .await
        .at("POST /v1/auth/refresh")?;
    save_session(cli, keystore, &session.email, &staff)?;
    Ok(staff)
}

async fn register(cli: &Cli, keystore: &Path, role: Role, args: &Register) -> Result<(), CliError> {
    let keys = keystore::open(keystore, PASSPHRASE)?;
    let password = keystore::secret(PASSWORD, "New login password: ")?;
    let account = client(cli, keys)?
        .sign_up(role, &args.email, &password, &args.name)
        .await
        .at("POST /v1/accounts")?;
    let role = if role == Role::Doctor {
        "doctor"
    } else {
        "insurer"
    };
    say(
        cli,
        format!(
            "signed up {} as a {role}: account {} is pending an admin's approval",
            args.email, account.id
        ),
        &account,
    );
    Ok(())
}

/// The account with id `id`, for a doctor's or insurer's approval or suspension.
async fn account(
    admin: &StaffClient,
    id: &str,
    what: &str,
) -> Result<carechain_client::wire::Account, CliError> {
    admin
        .accounts(None)
        .await
        .at("GET /v1/admin/accounts")?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| CliError::Invalid(format!("{what}: no account with id {id:?}")))
}

async fn admin(cli: &Cli, keystore: &Path, command: &AdminCommand) -> Result<(), CliError> {
    if let AdminCommand::Common(c) = command {
        return common(cli, keystore, c).await;
    }
    let admin = staff(cli, keystore).await?;
    match command {
        AdminCommand::Common(_) => {}
        AdminCommand::Accounts { status } => {
            let accounts = admin.accounts(*status).await.at("GET /v1/admin/accounts")?;
            print_json(&accounts);
        }
        AdminCommand::Approve { account: id } => {
            let account = account(&admin, id, "approve").await?;
            if !matches!(account.role, Role::Doctor | Role::Insurer) {
                return Err(CliError::Invalid(format!(
                    "account {id}: expected a doctor or insurer, found {:?}",
                    account.role
                )));
            }
            let answer = admin
                .approve_account(&account)
                .await
                .at(format!("POST /v1/admin/accounts/{id}/approve"))?;
            let tx = ledger_tx(&answer.tx_id);
            say(cli, format!("approved account {id} ({tx})"), &answer);
        }
        AdminCommand::Suspend {
            account: id,
            reason,
        } => {
            let account = account(&admin, id, "suspend").await?;
            let actor = account.actor_id.ok_or_else(|| {
                CliError::Invalid(format!("suspend: account {id} has no ledger actor yet"))
            })?;
            let answer = admin
                .suspend_account(id, actor, reason)
                .await
                .at(format!("POST /v1/admin/accounts/{id}/suspend"))?;
            let tx = ledger_tx(&answer.tx_id);
            say(cli, format!("suspended account {id} ({tx})"), &answer);
        }
        AdminCommand::Audit => {
            print_json(&admin.audit().await.at("GET /v1/admin/audit")?);
        }
    }
    Ok(())
}

/// A doctor's or insurer's command that needs no login.
async fn without_login(
    cli: &Cli,
    keystore: &Path,
    role: Role,
    command: &Account,
) -> Result<(), CliError> {
    match command {
        Account::Common(c) => common(cli, keystore, c).await,
        Account::Register(args) => register(cli, keystore, role, args).await,
    }
}

async fn doctor(cli: &Cli, keystore: &Path, command: &DoctorCommand) -> Result<(), CliError> {
    if let DoctorCommand::Account(a) = command {
        return without_login(cli, keystore, Role::Doctor, a).await;
    }
    // Validate the FHIR file before unlocking anything or calling the relay.
    let record = match command {
        DoctorCommand::Write {
            patient,
            file,
            condition,
            category,
            encrypted_code,
            billed,
            currency,
            date_of_service,
        } => {
            let text = match (file, condition) {
                (Some(file), _) => std::fs::read_to_string(file)
                    .map_err(|e| CliError::File(format!("{}: {e}", file.display())))?,
                (None, Some(code)) => fhir::condition(patient, code, "").to_string(),
                (None, None) => {
                    return Err(CliError::Invalid(
                        "write: expected a FHIR file or --condition CODE".into(),
                    ));
                }
            };
            let valid = fhir::validate(&text, patient)?;
            let category = staff::category(category).map_err(CliError::Invalid)?;
            let patient: ActorId = parse_id(patient, "patient").map_err(CliError::Invalid)?;
            let encrypted: Option<Icd10Code> = encrypted_code
                .as_deref()
                .map(|code| parse_id(code, "encrypted code"))
                .transpose()
                .map_err(CliError::Invalid)?;
            let treatment = Treatment {
                date_of_service: date_of_service.unwrap_or_else(demo::now),
                billed: *billed,
                currency: currency.clone(),
            };
            Some((patient, text, valid.code, category, encrypted, treatment))
        }
        _ => None,
    };
    let doctor = staff(cli, keystore).await?;
    let patient_id = |p: &str| parse_id::<ActorId>(p, "patient").map_err(CliError::Invalid);
    match command {
        DoctorCommand::Account(_) => {}
        DoctorCommand::Request {
            patient,
            days,
            read_only,
        } => {
            let actions = if *read_only {
                vec![AccessAction::Read]
            } else {
                vec![AccessAction::Read, AccessAction::Write]
            };
            let ask = AccessAsk {
                patient: patient_id(patient)?,
                actions,
                scope: Scope::All,
                purpose: PurposeOfUse::Treat,
                duration_secs: i64::from(*days) * 86_400,
            };
            let id = doctor.request_access(ask).await.at("POST /v1/requests")?;
            say(
                cli,
                format!("request {id} sent to patient {patient}; it awaits their answer"),
                &json!({ "request": id, "patient": patient }),
            );
        }
        DoctorCommand::Grants { status } => {
            let requests = doctor
                .access_requests(status.as_deref())
                .await
                .at("GET /v1/requests")?;
            print_json(&requests);
        }
        DoctorCommand::Write { .. } => {
            if let Some((patient, text, code, category, encrypted, treatment)) = record {
                let written = match &encrypted {
                    Some(lie) => {
                        doctor
                            .write_record_encrypting(&patient, category, &text, lie, &treatment)
                            .await
                    }
                    None => {
                        doctor
                            .write_record(&patient, category, &text, &treatment)
                            .await
                    }
                };
                let id = written.at("POST /v1/records")?;
                say(
                    cli,
                    format!("wrote record {id} ({code} for patient {patient})"),
                    &json!({ "record": id, "code": code.to_string(), "patient": patient }),
                );
            }
        }
        DoctorCommand::Read { record } => {
            let id: RecordId = parse_id(record, "record").map_err(CliError::Invalid)?;
            let read = doctor
                .read_record(id)
                .await
                .at(format!("POST /v1/records/{record}/read"))?;
            println!("{}", read.fhir_json);
        }
        DoctorCommand::Records { patient } => {
            let records = doctor
                .patient_records(&patient_id(patient)?)
                .await
                .at(format!("GET /v1/patients/{patient}/records"))?;
            print_json(&records);
        }
    }
    Ok(())
}

async fn insurer(cli: &Cli, keystore: &Path, command: &InsurerCommand) -> Result<(), CliError> {
    if let InsurerCommand::Account(a) = command {
        return without_login(cli, keystore, Role::Insurer, a).await;
    }
    let insurer = staff(cli, keystore).await?;
    match command {
        InsurerCommand::Account(_) => {}
        InsurerCommand::Publish {
            name,
            currency,
            premium,
            term_days,
            items,
        } => {
            let product = PublishProduct {
                product: ProductId::random(&mut OsRng),
                name: name.clone(),
                currency: currency.clone(),
                premium: *premium,
                term_days: *term_days,
                items: items
                    .iter()
                    .map(|(code, payout)| CoveredItem {
                        code: code.clone(),
                        payout: *payout,
                    })
                    .collect(),
            };
            let id = insurer
                .publish_product(product)
                .await
                .at("POST /v1/products")?;
            say(
                cli,
                format!("published product {id}"),
                &json!({ "product": id }),
            );
        }
        InsurerCommand::Purchases => {
            print_json(&insurer.policies().await.at("GET /v1/policies")?);
        }
        InsurerCommand::Issue { policy } => {
            let id: PolicyId = parse_id(policy, "policy").map_err(CliError::Invalid)?;
            let answer = insurer
                .issue_policy(id)
                .await
                .at(format!("POST /v1/policies/{policy}/issue"))?;
            let tx = ledger_tx(&answer.tx_id);
            say(cli, format!("issued policy {policy} ({tx})"), &answer);
        }
        InsurerCommand::Decline { policy, reason } => {
            let id: PolicyId = parse_id(policy, "policy").map_err(CliError::Invalid)?;
            let answer = insurer
                .decline_policy(id, reason)
                .await
                .at(format!("POST /v1/policies/{policy}/decline"))?;
            let tx = ledger_tx(&answer.tx_id);
            say(cli, format!("declined policy {policy} ({tx})"), &answer);
        }
        InsurerCommand::Claims => print_json(&insurer.claims().await.at("GET /v1/claims")?),
        InsurerCommand::Paid { claim, reference } => {
            let id: ClaimId = parse_id(claim, "claim").map_err(CliError::Invalid)?;
            let answer = insurer
                .mark_paid(id, reference)
                .await
                .at(format!("POST /v1/claims/{claim}/paid"))?;
            let tx = ledger_tx(&answer.tx_id);
            say(cli, format!("claim {claim} marked paid ({tx})"), &answer);
        }
    }
    Ok(())
}

async fn demo(cli: &Cli, args: &args::DemoArgs, relay_given: bool) -> Result<(), CliError> {
    if relay_given {
        let keys = keystore::open(&args.admin_keystore, ADMIN_PASSPHRASE)?;
        let password = keystore::secret(ADMIN_PASSWORD, "Admin login password: ")?;
        println!("CareChain demo against the relay at {}", cli.relay);
        let admin = demo::DemoAdmin {
            keys,
            email: args.admin_email.clone(),
            password,
        };
        return Ok(demo::run(&cli.relay, &cli.audience, admin).await?);
    }
    let secret = || zeroize::Zeroizing::new(format!("demo-{}", uuid::Uuid::new_v4().simple()));
    let (passphrase, password) = (secret(), secret());
    let email = "admin@demo.invalid";
    let relay = local::start(
        None,
        &local::Admin {
            email,
            password: &password,
            passphrase: &passphrase,
        },
    )
    .await?;
    println!(
        "CareChain demo against a temporary relay at {} (SQLite and the embedded ledger in {})",
        relay.url,
        relay.data_dir.display()
    );
    let admin = demo::DemoAdmin {
        keys: keystore::open_with(&relay.admin_keystore(), &passphrase)?,
        email: email.to_owned(),
        password,
    };
    let outcome = tokio::select! {
        outcome = demo::run(&relay.url, "carechain", admin) => outcome,
        () = interrupted() => return Err(CliError::Invalid("interrupted".into())),
    };
    drop(relay);
    Ok(outcome?)
}

/// Ctrl-C, or (on Unix) SIGTERM: the temporary relay is stopped on the way out.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn sandbox(args: &args::SandboxArgs) -> Result<(), CliError> {
    let passphrase = keystore::secret(ADMIN_PASSPHRASE, "Admin keystore passphrase: ")?;
    let password = keystore::secret(ADMIN_PASSWORD, "Admin login password: ")?;
    let relay = local::start(
        Some(args.dir.clone()),
        &local::Admin {
            email: &args.admin_email,
            password: &password,
            passphrase: &passphrase,
        },
    )
    .await?;
    println!(
        "admin {} with keystore {}",
        args.admin_email,
        relay.admin_keystore().display()
    );
    // Last, so a caller waiting for this line has everything before it.
    println!("relay listening on {}", relay.url);
    interrupted().await;
    drop(relay);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let relay_given = std::env::args().any(|a| a == "--relay" || a.starts_with("--relay="))
        || std::env::var_os("CARECHAIN_RELAY_URL").is_some();
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Admin { keystore, command } => admin(&cli, keystore, command).await,
        Command::Doctor { keystore, command } => doctor(&cli, keystore, command).await,
        Command::Insurer { keystore, command } => insurer(&cli, keystore, command).await,
        Command::Demo(args) => demo(&cli, args, relay_given).await,
        Command::Sandbox(args) => sandbox(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
