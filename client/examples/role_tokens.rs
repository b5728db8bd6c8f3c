//! Access tokens for every role of a running test relay, for API fuzzing
//! (`scripts/schemathesis.sh` runs schemathesis once per role with them).
//!
//! Logs in as the relay's admin (the test kit's credentials), enrols an
//! approved doctor and insurer, registers a patient with a fresh wallet
//! (2048-bit Paillier, the smallest the relay takes), and prints one JSON
//! object `{"admin": …, "doctor": …, "insurer": …, "patient": …}`.
//!
//! ```text
//! cargo run -p carechain-client --example role_tokens -- http://127.0.0.1:8080 data/admin.keystore
//! ```

#![allow(clippy::print_stdout, missing_docs)]

use std::sync::{Arc, Mutex};

use carechain_client::PatientClient;
use carechain_core::OsRng;
use carechain_core::statement::Role;
use carechain_core::wallet::Wallet;
use carechain_testkit::process::LEDGER_AUDIENCE;

mod common;

use common::{Error, enrol};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(keystore)) = (args.next(), args.next()) else {
        return Err("usage: role_tokens <relay url> <admin keystore file>".into());
    };
    let admin = common::admin(&url, &std::fs::read(&keystore)?).await?;
    let doctor = enrol(&admin, Role::Doctor, "fuzz-doctor").await?;
    let insurer = enrol(&admin, Role::Insurer, "fuzz-insurer").await?;
    let wallet = Arc::new(Mutex::new(Wallet::create(2048, &mut OsRng, &mut |_| {})?));
    let patient = PatientClient::new(&url, LEDGER_AUDIENCE, wallet)?;
    patient.register("Fuzz patient").await?;
    let tokens = serde_json::json!({
        "admin": admin.session().access_token().await?,
        "doctor": doctor.session().access_token().await?,
        "insurer": insurer.session().access_token().await?,
        "patient": patient.session().access_token().await?,
    });
    println!("{tokens}");
    Ok(())
}
