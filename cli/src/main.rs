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
mod fhir;
mod keystore;
mod local;
mod relay;
mod roles;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser as _;
use serde_json::Value;

use args::{AdminCommand, Cli, Command, Common, DoctorCommand, InsurerCommand, Register};
use carechain_core::statement::AccessAction;
use keystore::{Session, StoreError};
use relay::{Relay, RelayError};
use roles::{ActionError, Staff, StaffRole};

/// Any failure of a command, printed on stderr.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// The keystore or session.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The relay.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// An action.
    #[error(transparent)]
    Action(#[from] ActionError),
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

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("cannot print the answer: {e}"),
    }
}

/// Keystore and session commands; `Ok(true)` if `common` was handled.
async fn common(cli: &Cli, keystore: &Path, common: &Common) -> Result<(), CliError> {
    match common {
        Common::Init => {
            let keys = keystore::create(keystore, PASSPHRASE)?;
            println!(
                "created {} for actor {}",
                keystore.display(),
                keys.signing.actor_id()
            );
        }
        Common::Whoami => {
            let keys = keystore::open(keystore, PASSPHRASE)?;
            println!("{}", keys.signing.actor_id());
        }
        Common::Login { email } => {
            keystore::open(keystore, PASSPHRASE)?;
            let password = keystore::secret(PASSWORD, "Login password: ")?;
            let relay = Relay::new(&cli.relay)?;
            let (_, refresh_token) = relay.password_login(email, &password).await?;
            keystore::save_session(
                keystore,
                &Session {
                    relay: cli.relay.clone(),
                    email: email.clone(),
                    refresh_token,
                },
            )?;
            println!("logged in to {} as {email}", cli.relay);
        }
    }
    Ok(())
}

/// Opens the keystore and resumes its session (rotating the refresh token).
async fn staff(cli: &Cli, keystore: &Path) -> Result<Staff, CliError> {
    let keys = keystore::open(keystore, PASSPHRASE)?;
    let mut session = keystore::load_session(keystore)?;
    if session.relay != cli.relay {
        return Err(CliError::File(format!(
            "logged in to {}, not {}: run `login` again",
            session.relay, cli.relay
        )));
    }
    let mut relay = Relay::new(&cli.relay)?;
    let (access, refresh) = relay.refresh(&session.refresh_token).await?;
    session.refresh_token = refresh;
    keystore::save_session(keystore, &session)?;
    relay.set_token(access);
    Ok(Staff {
        relay,
        keys,
        audience: cli.audience.clone(),
    })
}

async fn register(
    cli: &Cli,
    keystore: &Path,
    role: StaffRole,
    args: &Register,
) -> Result<(), CliError> {
    let keys = keystore::open(keystore, PASSPHRASE)?;
    let password = keystore::secret(PASSWORD, "New login password: ")?;
    let relay = Relay::new(&cli.relay)?;
    let id = roles::signup(&relay, &keys, role, &args.email, &password, &args.name).await?;
    println!(
        "signed up {} as a {}: account {id} is pending an admin's approval",
        args.email,
        role.as_str()
    );
    Ok(())
}

async fn admin(cli: &Cli, keystore: &Path, command: &AdminCommand) -> Result<(), CliError> {
    if let AdminCommand::Common(c) = command {
        return common(cli, keystore, c).await;
    }
    let admin = staff(cli, keystore).await?;
    match command {
        AdminCommand::Common(_) => {}
        AdminCommand::Accounts { status } => print_json(&admin.accounts(status.as_deref()).await?),
        AdminCommand::Approve { account } => {
            let tx = admin.approve(account).await?;
            println!("approved account {account} (ledger tx {})", tx_id(&tx));
        }
        AdminCommand::Suspend { account, reason } => {
            let tx = admin.suspend(account, reason).await?;
            println!("suspended account {account} (ledger tx {})", tx_id(&tx));
        }
        AdminCommand::Audit => print_json(&admin.audit().await?),
    }
    Ok(())
}

fn tx_id(reply: &Value) -> &str {
    reply["tx_id"].as_str().unwrap_or("?")
}

async fn doctor(cli: &Cli, keystore: &Path, command: &DoctorCommand) -> Result<(), CliError> {
    match command {
        DoctorCommand::Common(c) => return common(cli, keystore, c).await,
        DoctorCommand::Register(args) => {
            return register(cli, keystore, StaffRole::Doctor, args).await;
        }
        _ => {}
    }
    // Validate the FHIR file before unlocking anything or calling the relay.
    let record = match command {
        DoctorCommand::Write {
            patient,
            file,
            category,
        } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| CliError::File(format!("{}: {e}", file.display())))?;
            let record = fhir::validate(&text, patient).map_err(ActionError::from)?;
            Some((record, roles::doctor::category(category)?))
        }
        _ => None,
    };
    let doctor = staff(cli, keystore).await?;
    match command {
        DoctorCommand::Common(_) | DoctorCommand::Register(_) => {}
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
            let id = doctor.request_access(patient, actions, *days).await?;
            println!("request {id} sent to patient {patient}; it awaits their answer");
        }
        DoctorCommand::Grants { status } => {
            print_json(&doctor.requests(status.as_deref()).await?);
        }
        DoctorCommand::Write { patient, .. } => {
            if let Some((record, category)) = record {
                let id = doctor.write_record(patient, &record, category).await?;
                println!("wrote record {id} ({} for patient {patient})", record.code);
            }
        }
        DoctorCommand::Read { record } => println!("{}", doctor.read_record(record).await?),
        DoctorCommand::Records { patient } => {
            print_json(&doctor.patient_records(patient).await?);
        }
    }
    Ok(())
}

async fn insurer(cli: &Cli, keystore: &Path, command: &InsurerCommand) -> Result<(), CliError> {
    match command {
        InsurerCommand::Common(c) => return common(cli, keystore, c).await,
        InsurerCommand::Register(args) => {
            return register(cli, keystore, StaffRole::Insurer, args).await;
        }
        _ => {}
    }
    let insurer = staff(cli, keystore).await?;
    match command {
        InsurerCommand::Common(_) | InsurerCommand::Register(_) => {}
        InsurerCommand::Publish {
            name,
            currency,
            premium,
            term_days,
            items,
        } => {
            let product = roles::insurer::NewProduct {
                name: name.clone(),
                currency: currency.clone(),
                premium: *premium,
                term_days: *term_days,
                items: items.clone(),
            };
            println!("published product {}", insurer.publish(&product).await?);
        }
        InsurerCommand::Purchases => print_json(&insurer.policies().await?),
        InsurerCommand::Issue { policy } => {
            let tx = insurer.issue(policy).await?;
            println!("issued policy {policy} (ledger tx {})", tx_id(&tx));
        }
        InsurerCommand::Claims => print_json(&insurer.claims().await?),
        InsurerCommand::Paid { claim, reference } => {
            let tx = insurer.mark_paid(claim, reference).await?;
            println!("claim {claim} marked paid (ledger tx {})", tx_id(&tx));
        }
    }
    Ok(())
}

async fn demo(cli: &Cli, args: &args::DemoArgs, relay_given: bool) -> Result<(), CliError> {
    if relay_given {
        let keys = keystore::open(&args.admin_keystore, "CARECHAIN_ADMIN_PASSPHRASE")?;
        let password = keystore::secret("CARECHAIN_ADMIN_PASSWORD", "Admin login password: ")?;
        println!("CareChain demo against the relay at {}", cli.relay);
        let admin = demo::DemoAdmin {
            keys,
            email: args.admin_email.clone(),
            password,
        };
        return Ok(demo::run(&cli.relay, &cli.audience, admin).await?);
    }
    let relay = local::start(None, "admin@demo.invalid", None)?;
    println!(
        "CareChain demo against a temporary relay at {} (SQLite and the embedded ledger in {})",
        relay.url,
        relay.data_dir.display()
    );
    let admin = demo::DemoAdmin {
        keys: carechain_api::keystore::AdminKeys {
            signing: carechain_core::identity::SigningKey::from_bytes(
                relay.admin_keys.signing.to_bytes().as_ref(),
            )
            .map_err(|e| CliError::File(e.to_string()))?,
            hpke: carechain_core::envelope::HpkeSecretKey::from_bytes(
                &relay.admin_keys.hpke.to_bytes(),
            )
            .map_err(|e| CliError::File(e.to_string()))?,
        },
        email: relay.admin_email.clone(),
        password: relay.admin_password.clone(),
    };
    let url = relay.url.clone();
    let outcome = demo::run(&url, "carechain", admin).await;
    relay.stop().await;
    Ok(outcome?)
}

async fn sandbox(args: &args::SandboxArgs) -> Result<(), CliError> {
    let passphrase = keystore::secret("CARECHAIN_ADMIN_PASSPHRASE", "Admin keystore passphrase: ")?;
    let password = keystore::secret("CARECHAIN_ADMIN_PASSWORD", "Admin login password: ")?;
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| CliError::File(format!("{}: {e}", args.dir.display())))?;
    let relay = local::start(Some(args.dir.clone()), &args.admin_email, Some(password))?;
    let path = args.dir.join("admin.keystore");
    let sealed = relay
        .admin_keys
        .seal(&passphrase, &mut carechain_core::OsRng)
        .map_err(|e| CliError::File(e.to_string()))?;
    keystore::write_private(&path, &sealed, false)?;
    println!(
        "admin {} with keystore {}",
        args.admin_email,
        path.display()
    );
    // Last, so a caller waiting for this line has everything before it.
    println!("relay listening on {}", relay.url);
    let _ = tokio::signal::ctrl_c().await;
    relay.stop().await;
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
