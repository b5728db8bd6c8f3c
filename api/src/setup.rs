//! First start: the ledger's genesis with the first admin, and that admin's account.

use carechain_core::ids::B64;
use carechain_core::protocol::register::registration;
use carechain_core::statement::{Action, Role, Statement};
use carechain_ledger::Proposal;
use rand_core::OsRng;

use crate::auth::password;
use crate::db::{self, accounts, models};
use crate::error::ApiError;
use crate::keystore::AdminKeys;
use crate::state::AppState;
use crate::types::{AccountRole, status};

/// Whether the ledger has been initialised.
pub async fn ledger_initialised(state: &AppState) -> Result<bool, ApiError> {
    match state
        .ledger
        .evaluate(Proposal::new("config", Vec::<Vec<u8>>::new()))
        .await
    {
        Ok(_) => Ok(true),
        Err(carechain_ledger::LedgerError::Refused { code, .. }) if code == "not_initialised" => {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Submits the ledger `init` with the admin's self-signed registration and
/// stores the admin account with an argon2id password hash.
pub async fn init_admin(
    state: &AppState,
    keys: &AdminKeys,
    email: &str,
    password_text: &str,
    display_name: &str,
) -> Result<models::Account, ApiError> {
    if ledger_initialised(state).await? {
        return Err(ApiError::Conflict(
            "the ledger is already initialised".into(),
        ));
    }
    password::check_policy(password_text)?;
    let email = email.trim().to_lowercase();
    if !email.contains('@') {
        return Err(ApiError::bad_request("expected an email address"));
    }
    let registration = registration(Role::Admin, &keys.signing, &keys.hpke, display_name, None);
    let actor = keys.signing.actor_id();
    let token = Statement::new(
        actor.clone(),
        &state.config.ledger_audience,
        Action::RegisterIdentity(registration),
        db::now(),
        300,
        &mut OsRng,
    )
    .sign(&keys.signing)
    .map_err(|e| ApiError::internal(format!("signing: {e}")))?;
    let config = serde_json::json!({
        "audience": state.config.ledger_audience,
        "rules": carechain_chaincode::contract::CURRENT_RULES,
        "max_paillier_bits": state.config.paillier_max_bits,
    })
    .to_string();
    state
        .ledger
        .submit(Proposal::new(
            "init",
            [config.into_bytes(), token.into_bytes()],
        ))
        .await?;
    let hash = password::hash(password_text.to_owned()).await?;
    let now = db::now();
    let id = uuid::Uuid::new_v4().to_string();
    let account = models::Account {
        id: id.clone(),
        role: AccountRole::Admin.as_str().into(),
        email: Some(email),
        password_hash: Some(hash),
        actor_id: Some(actor.to_string()),
        display_name: display_name.to_owned(),
        status: status::ACTIVE.into(),
        created_at: now,
    };
    let device = models::Device {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: id,
        actor_id: actor.to_string(),
        signing_key: B64(keys.signing.verifying_key().to_sec1_bytes()).encode(),
        hpke_key: B64(keys.hpke.public_key().to_bytes()).encode(),
        created_at: now,
    };
    let stored = account.clone();
    db::run(&state.pool, move |conn| {
        accounts::create(conn, &stored, Some(&device))
    })
    .await?;
    Ok(account)
}
