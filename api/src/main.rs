//! `carechain-relay`: serve the API, initialise the ledger with the first
//! admin, or verify the embedded ledger.

use std::path::PathBuf;
use std::time::Duration;

use actix_web::web;
use clap::{Parser, Subcommand};
use rand_core::OsRng;
use tracing_subscriber::EnvFilter;
use zeroize::Zeroizing;

use carechain_api::config::Config;
use carechain_api::error::ApiError;
use carechain_api::keystore::AdminKeys;
use carechain_api::relay::Relay;
use carechain_api::setup;
use carechain_api::state::AppState;

/// The CareChain relay.
#[derive(Parser)]
#[command(name = "carechain-relay", version, about)]
struct Cli {
    /// A TOML configuration file (environment variables override it).
    #[arg(long, global = true, env = "CARECHAIN_CONFIG")]
    config: Option<PathBuf>,
    /// What to do; without one, `serve`.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (default 127.0.0.1:8080, data in ./data); the default.
    Serve(ServeArgs),
    /// Initialise the ledger with the first admin and create its account.
    Init(AdminArgs),
    /// Admin accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Replay the embedded ledger and check every block and the state.
    VerifyLedger,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create the first admin (same as `init`).
    Create(AdminArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// On an empty ledger, first create the admin with this login email
    /// (as `init` does), then serve.
    #[arg(long = "admin-email", env = "CARECHAIN_ADMIN_EMAIL")]
    admin_email: Option<String>,
}

#[derive(clap::Args)]
struct AdminArgs {
    /// The admin's login email.
    #[arg(long = "admin-email", alias = "email")]
    admin_email: String,
    /// The admin's display name.
    #[arg(long, default_value = "Administrator")]
    name: String,
    /// Where to write the sealed keystore (default: data dir/admin.keystore).
    #[arg(long)]
    keystore: Option<PathBuf>,
}

fn secret(var: &str, prompt: &str) -> Result<Zeroizing<String>, ApiError> {
    if let Ok(value) = std::env::var(var) {
        return Ok(Zeroizing::new(value));
    }
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(|e| ApiError::bad_request(format!("set {var} or answer the prompt: {e}")))
}

async fn init(config: Config, args: AdminArgs) -> Result<(), ApiError> {
    let path = args
        .keystore
        .clone()
        .unwrap_or_else(|| config.data_dir.join("admin.keystore"));
    let state = AppState::open(config)?;
    if setup::ledger_initialised(&state).await? {
        return Err(ApiError::Conflict(
            "the ledger is already initialised".into(),
        ));
    }
    let passphrase = secret("CARECHAIN_ADMIN_PASSPHRASE", "Keystore passphrase: ")?;
    let password = secret("CARECHAIN_ADMIN_PASSWORD", "Admin login password: ")?;
    let keys = AdminKeys::generate(&mut OsRng);
    let sealed = keys
        .seal(&passphrase, &mut OsRng)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    carechain_api::keystore::write_private(&path, &sealed, false)
        .map_err(|e| ApiError::internal(format!("cannot create {}: {e}", path.display())))?;
    let account =
        setup::init_admin(&state, &keys, &args.admin_email, &password, &args.name).await?;
    tracing::info!(
        account = %account.id,
        actor = account.actor_id.as_deref().unwrap_or(""),
        keystore = %path.display(),
        "ledger initialised with the first admin"
    );
    Ok(())
}

async fn serve(config: Config, args: ServeArgs) -> Result<(), ApiError> {
    if let Some(email) = args.admin_email {
        let empty = {
            let state = AppState::open(config.clone())?;
            !setup::ledger_initialised(&state).await?
        };
        if empty {
            let init_args = AdminArgs {
                admin_email: email,
                name: "Administrator".into(),
                keystore: None,
            };
            init(config.clone(), init_args).await?;
        }
    }
    let mut relay = Relay::builder(config);
    // The embedded ledger has one writer process: while the ledger is empty,
    // close it between checks so `init` (another process) can write genesis.
    let state = loop {
        let state = relay.open()?;
        if setup::ledger_initialised(&state).await? {
            break web::Data::new(state);
        }
        drop(state);
        tracing::warn!("the ledger is empty: run `carechain-relay init --admin-email …` (waiting)");
        actix_web::rt::time::sleep(Duration::from_secs(5)).await;
    };
    relay.serve(state)?.wait().await
}

fn verify(config: &Config) -> Result<(), ApiError> {
    if config.ledger == carechain_api::config::LedgerKind::Fabric {
        return Err(ApiError::bad_request(
            "verify-ledger replays the embedded ledger; with ledger = \"fabric\" the peers validate every block, so there is nothing local to verify",
        ));
    }
    let report = carechain_ledger::verify(&config.ledger_dir(), &carechain_chaincode::CareChain)?;
    tracing::info!(
        blocks = report.blocks,
        transactions = report.transactions,
        state_keys = report.state_keys,
        head = %hex::encode(report.head),
        "ledger verified"
    );
    Ok(())
}

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .json()
        .init();
    let cli = Cli::parse();
    let outcome = match Config::load(cli.config.as_deref()) {
        Err(e) => Err(ApiError::bad_request(e.to_string())),
        Ok(config) => match cli.command {
            None => {
                let args = ServeArgs {
                    admin_email: std::env::var("CARECHAIN_ADMIN_EMAIL")
                        .ok()
                        .filter(|email| !email.trim().is_empty()),
                };
                serve(config, args).await
            }
            Some(Command::Serve(args)) => serve(config, args).await,
            Some(
                Command::Init(args)
                | Command::Admin {
                    command: AdminCommand::Create(args),
                },
            ) => init(config, args).await,
            Some(Command::VerifyLedger) => verify(&config),
        },
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "carechain-relay failed");
            std::process::ExitCode::FAILURE
        }
    }
}
