//! The command line (clap derive).

use std::path::PathBuf;

use carechain_client::wire::AccountStatus;
use clap::{Args, Parser, Subcommand};

/// CareChain for doctors, insurers and admins, and `carechain demo`.
#[derive(Parser)]
#[command(name = "carechain", version, about)]
pub struct Cli {
    /// The relay's URL.
    #[arg(
        long,
        global = true,
        env = "CARECHAIN_RELAY_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub relay: String,
    /// The ledger audience statements are signed for.
    #[arg(
        long,
        global = true,
        env = "CARECHAIN_LEDGER_AUDIENCE",
        default_value = "carechain"
    )]
    pub audience: String,
    /// Print each answer as one JSON document (ids, ledger transactions) for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Subcommand)]
pub enum Command {
    /// Approve and suspend accounts, read the audit trail.
    Admin {
        /// The keystore (the relay's `data/admin.keystore` works).
        #[arg(long, env = "CARECHAIN_KEYSTORE", default_value = "admin.keystore")]
        keystore: PathBuf,
        /// What to do.
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Request access, write and read records.
    Doctor {
        /// The keystore file.
        #[arg(long, env = "CARECHAIN_KEYSTORE", default_value = "doctor.keystore")]
        keystore: PathBuf,
        /// What to do.
        #[command(subcommand)]
        command: DoctorCommand,
    },
    /// Publish products, issue policies, see claim decisions, mark claims paid.
    Insurer {
        /// The keystore file.
        #[arg(long, env = "CARECHAIN_KEYSTORE", default_value = "insurer.keystore")]
        keystore: PathBuf,
        /// What to do.
        #[command(subcommand)]
        command: InsurerCommand,
    },
    /// Run the whole story against a relay (a temporary one unless --relay is given).
    Demo(DemoArgs),
    /// Run a throwaway local relay with a fresh admin until interrupted.
    Sandbox(SandboxArgs),
}

/// `carechain demo` options.
#[derive(Args)]
pub struct DemoArgs {
    /// With --relay: the admin's keystore (passphrase in CARECHAIN_ADMIN_PASSPHRASE).
    #[arg(
        long,
        env = "CARECHAIN_ADMIN_KEYSTORE",
        default_value = "data/admin.keystore"
    )]
    pub admin_keystore: PathBuf,
    /// With --relay: the admin's login email (password in CARECHAIN_ADMIN_PASSWORD).
    #[arg(
        long,
        env = "CARECHAIN_ADMIN_EMAIL",
        default_value = "admin@example.org"
    )]
    pub admin_email: String,
}

/// `carechain sandbox` options.
#[derive(Args)]
pub struct SandboxArgs {
    /// The data directory (must not hold a ledger yet); `admin.keystore` is written there.
    #[arg(long)]
    pub dir: PathBuf,
    /// The admin's login email.
    #[arg(long, default_value = "admin@example.org")]
    pub admin_email: String,
}

/// Keystore and session commands every role has.
#[derive(Subcommand)]
pub enum Common {
    /// Generate keys into a new keystore (passphrase from CARECHAIN_PASSPHRASE or a prompt).
    Init,
    /// Log in with a password (CARECHAIN_PASSWORD or a prompt); keeps a refresh token beside the keystore.
    Login {
        /// The account's email.
        #[arg(long, env = "CARECHAIN_EMAIL")]
        email: String,
    },
    /// Print this keystore's ledger actor id.
    Whoami,
}

/// Admin commands.
#[derive(Subcommand)]
pub enum AdminCommand {
    /// Keystore and session.
    #[command(flatten)]
    Common(Common),
    /// List accounts.
    Accounts {
        /// Only `pending`, `active` or `suspended` accounts.
        #[arg(long, value_parser = crate::staff::account_status)]
        status: Option<AccountStatus>,
    },
    /// Approve a pending doctor or insurer account (registers its identity on the ledger).
    Approve {
        /// The account id.
        account: String,
    },
    /// Suspend an account at once.
    Suspend {
        /// The account id.
        account: String,
        /// Why, for the audit trail.
        #[arg(long)]
        reason: String,
    },
    /// The ledger's audit trail (no payloads).
    Audit,
}

/// The commands a doctor or insurer runs without a login.
#[derive(Subcommand)]
pub enum Account {
    /// Keystore and session.
    #[command(flatten)]
    Common(Common),
    /// Sign up (password from CARECHAIN_PASSWORD or a prompt); an admin then approves.
    Register(Register),
}

/// Sign-up shared by doctors and insurers.
#[derive(Args)]
pub struct Register {
    /// Login email.
    #[arg(long, env = "CARECHAIN_EMAIL")]
    pub email: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
}

/// Doctor commands.
#[derive(Subcommand)]
pub enum DoctorCommand {
    /// Keystore, session and sign-up.
    #[command(flatten)]
    Account(Account),
    /// Ask a patient for access to every record.
    Request {
        /// The patient's actor id.
        patient: String,
        /// For how many days.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Ask for read access only.
        #[arg(long)]
        read_only: bool,
    },
    /// This doctor's access requests and grants.
    Grants {
        /// Only `pending`, `granted`, `denied` or `revoked`.
        #[arg(long)]
        status: Option<String>,
    },
    /// Encrypt and write a FHIR R4 JSON record (a Condition with an ICD-10-CM code, or a Bundle).
    Write {
        /// The patient's actor id.
        patient: String,
        /// The FHIR JSON file.
        #[arg(required_unless_present = "condition", conflicts_with = "condition")]
        file: Option<PathBuf>,
        /// Instead of a file: a minimal Condition with this ICD-10-CM code.
        #[arg(long, value_name = "CODE")]
        condition: Option<String>,
        /// The record's category.
        #[arg(long, default_value = "general")]
        category: String,
        /// What the encounter was billed, in minor units (cents): 12000 is 120.00.
        #[arg(long, value_name = "MINOR_UNITS")]
        billed: u64,
        /// The billed amount's ISO 4217 currency.
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// The date of service (Unix seconds; default: now).
        #[arg(long, value_name = "UNIX_SECONDS")]
        date_of_service: Option<i64>,
        /// Tests only: `E(code)` encrypts this code instead of the payload's,
        /// playing a lying doctor whose record the patient's phone flags.
        #[arg(long, hide = true, value_name = "CODE")]
        encrypted_code: Option<String>,
    },
    /// Read and decrypt a record (the read is logged on the ledger).
    Read {
        /// The record id.
        record: String,
    },
    /// List a patient's records this doctor's grants cover.
    Records {
        /// The patient's actor id.
        patient: String,
    },
}

/// Insurer commands.
#[derive(Subcommand)]
pub enum InsurerCommand {
    /// Keystore, session and sign-up.
    #[command(flatten)]
    Account(Account),
    /// Publish a product.
    Publish {
        /// Name shown to patients.
        #[arg(long)]
        name: String,
        /// ISO 4217 currency.
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// Premium in minor units.
        #[arg(long)]
        premium: u64,
        /// Term in days.
        #[arg(long, default_value_t = 365)]
        term_days: u32,
        /// A covered ICD-10-CM code or category and its payout in minor units: E11=50000 (repeatable).
        #[arg(long = "item", required = true, value_parser = crate::staff::parse_item)]
        items: Vec<(String, u64)>,
    },
    /// Policies of this insurer's products (purchased ones await an answer).
    Purchases,
    /// Accept a purchase: issue the policy (the ledger computes each covered item's E(M_i)).
    Issue {
        /// The policy id.
        policy: String,
    },
    /// Decline a purchase, with a reason shown to the patient.
    Decline {
        /// The policy id.
        policy: String,
        /// Why (1 to 500 characters).
        #[arg(long)]
        reason: String,
    },
    /// Claims and their decisions.
    Claims,
    /// Mark an approved claim paid.
    Paid {
        /// The claim id.
        claim: String,
        /// The payment reference.
        #[arg(long)]
        reference: String,
    },
}
