//! Identities: genesis with the first admin, patients' self-registration
//! (with the Paillier key-correctness proof), admins registering doctors and
//! insurers, and suspension.

use serde::Deserialize;

use carechain_core::envelope::HpkePublicKey;
use carechain_core::ids::ActorId;
use carechain_core::ledger::{Event, IdentityEvent, Registered};
use carechain_core::paillier::{self, KeyProof};
use carechain_core::statement::{
    Action, PaillierRegistration, RegisterIdentity, Role, Statement, SuspendIdentity,
};

use crate::contract::{
    CURRENT_RULES, DEFAULT_MAX_LIFETIME_SECS, DEFAULT_MAX_SKEW_SECS, Tx, Verified, respond,
};
use crate::error::ContractError;
use crate::model::{Identity, LedgerConfig, keys};
use crate::records;

/// Longest display name accepted.
const MAX_NAME_LEN: usize = 200;

/// The configuration passed to `init`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InitConfig {
    audience: String,
    #[serde(default)]
    max_skew_secs: Option<i64>,
    #[serde(default)]
    max_lifetime_secs: Option<i64>,
    /// The storage rules (absent: 0, the original ones, so that a chain
    /// initialised before rules existed replays identically).
    #[serde(default)]
    rules: Option<u32>,
    /// The largest Paillier modulus patients may register (absent: no cap,
    /// as on every ledger started before the cap existed).
    #[serde(default)]
    max_paillier_bits: Option<u32>,
    /// Rules ≥ 3: how long before a record write its date of service may
    /// lie (absent: `DEFAULT_MAX_SERVICE_AGE_SECS`, stored explicitly).
    #[serde(default)]
    max_service_age_secs: Option<i64>,
}

/// `init(config, admin_statement)`: genesis. Fixes the audience and registers
/// the first admin from its self-signed `register_identity`.
pub(crate) fn init(tx: &mut Tx<'_>, args: &[Vec<u8>]) -> Result<Vec<u8>, ContractError> {
    let [config, token] = args else {
        return Err(ContractError::BadArguments(format!(
            "init takes 2 arguments (config JSON, admin statement), found {}",
            args.len()
        )));
    };
    if tx.exists(keys::CONFIG)? {
        return Err(ContractError::AlreadyInitialised);
    }
    let config: InitConfig = serde_json::from_slice(config)
        .map_err(|err| ContractError::BadArguments(format!("init config: {err}")))?;
    let audience = config.audience.trim();
    if audience.is_empty() || audience.len() > 128 {
        return Err(ContractError::invalid(
            "audience",
            "expected 1 to 128 characters",
        ));
    }
    let config = LedgerConfig {
        audience: audience.to_owned(),
        max_skew_secs: config.max_skew_secs.unwrap_or(DEFAULT_MAX_SKEW_SECS),
        max_lifetime_secs: config
            .max_lifetime_secs
            .unwrap_or(DEFAULT_MAX_LIFETIME_SECS),
        rules: config.rules.unwrap_or(0),
        max_paillier_bits: config.max_paillier_bits,
        max_service_age_secs: config.max_service_age_secs,
    };
    if let Some(bits) = config.max_paillier_bits {
        let range = paillier::MIN_MODULUS_BITS..=paillier::MAX_MODULUS_BITS;
        if !usize::try_from(bits).is_ok_and(|b| range.contains(&b)) {
            return Err(ContractError::invalid(
                "max_paillier_bits",
                format!(
                    "expected {}..={} bits, found {bits}",
                    range.start(),
                    range.end()
                ),
            ));
        }
    }
    if config.rules > CURRENT_RULES {
        return Err(ContractError::invalid(
            "rules",
            format!("expected rules 0..={CURRENT_RULES}, found {}", config.rules),
        ));
    }
    let config = records::settle_service_window(config)?;
    if !(0..=3600).contains(&config.max_skew_secs)
        || !(60..=86_400).contains(&config.max_lifetime_secs)
    {
        return Err(ContractError::invalid(
            "config",
            "expected max_skew_secs in 0..=3600 and max_lifetime_secs in 60..=86400",
        ));
    }
    let token = std::str::from_utf8(token)
        .map_err(|_| ContractError::BadArguments("the statement is not UTF-8".into()))?;

    // The first admin is self-signed: verify under the key it registers.
    let claimed = Statement::peek(token)?;
    let Action::RegisterIdentity(body) = &claimed.act else {
        return Err(ContractError::invalid(
            "statement",
            format!("expected register_identity, found {}", claimed.act.kind()),
        ));
    };
    if body.role != Role::Admin {
        return Err(ContractError::invalid(
            "role",
            format!(
                "expected the first identity to be an admin, found {:?}",
                body.role
            ),
        ));
    }
    let policy = carechain_core::statement::VerifyPolicy {
        audience: &config.audience,
        now: tx.now(),
        max_skew_secs: config.max_skew_secs,
        max_lifetime_secs: config.max_lifetime_secs,
    };
    let jws = crate::contract::jws_rules(config.rules);
    let statement = Statement::verify_with_rules(token, &body.signing_key, &policy, jws)?;
    let Action::RegisterIdentity(body) = &statement.act else {
        return Err(ContractError::invalid(
            "statement",
            "changed between peek and verify",
        ));
    };
    check_common(body)?;
    let actor = statement.iss.clone();
    tx.put(keys::CONFIG, &config)?;
    tx.stub.put_state(
        &keys::nonce(&actor, &statement.jti),
        tx.stub.tx_id().as_bytes().to_vec(),
    )?;
    store(tx, body, &actor, &actor)?;
    respond(&Registered {
        actor,
        role: Role::Admin,
    })
}

/// Checks what every registration needs: name length and a valid HPKE key.
fn check_common(body: &RegisterIdentity) -> Result<(), ContractError> {
    if body.display_name.chars().count() > MAX_NAME_LEN {
        return Err(ContractError::invalid(
            "display_name",
            format!("expected at most {MAX_NAME_LEN} characters"),
        ));
    }
    HpkePublicKey::from_bytes(body.hpke_key.as_bytes())
        .map_err(|err| ContractError::invalid("hpke_key", err.to_string()))?;
    Ok(())
}

/// Refuses a Paillier modulus over the ledger's cap, from its encoded length
/// alone: before any parsing or arithmetic, so an oversized key costs the
/// contract next to nothing (the cap is absent on ledgers older than it).
pub(crate) fn check_paillier_size(
    config: &LedgerConfig,
    registration: &PaillierRegistration,
) -> Result<(), ContractError> {
    let Some(max) = config.max_paillier_bits else {
        return Ok(());
    };
    let bits = paillier::encoded_modulus_bits(registration.public_key.as_bytes());
    if bits > max as usize {
        return Err(ContractError::invalid(
            "paillier.public_key",
            format!("expected a modulus of at most {max} bits, found {bits} bits"),
        ));
    }
    Ok(())
}

/// Checks a patient's Paillier key and its key-correctness proof.
fn check_paillier(registration: &PaillierRegistration) -> Result<(), ContractError> {
    let key = paillier::PublicKey::from_bytes(registration.public_key.as_bytes())
        .map_err(|err| ContractError::invalid("paillier.public_key", err.to_string()))?;
    let proof = KeyProof::from_bytes(registration.key_proof.as_bytes())
        .map_err(|err| ContractError::invalid("paillier.key_proof", err.to_string()))?;
    key.verify_key_proof(&proof)
        .map_err(|err| ContractError::invalid("paillier.key_proof", err.to_string()))
}

fn store(
    tx: &mut Tx<'_>,
    body: &RegisterIdentity,
    actor: &ActorId,
    by: &ActorId,
) -> Result<(), ContractError> {
    let identity = Identity {
        actor: actor.clone(),
        role: body.role,
        signing_key: body.signing_key.clone(),
        hpke_key: body.hpke_key.clone(),
        display_name: body.display_name.clone(),
        paillier: body.paillier.clone(),
        active: true,
        registered_by: by.clone(),
        registered_at: tx.now(),
        suspension: None,
    };
    tx.put(&keys::identity(actor), &identity)?;
    tx.emit(Event::IdentityRegistered(IdentityEvent {
        actor: actor.clone(),
        role: body.role,
        by: by.clone(),
    }))
}

/// `register_identity`: a patient registers itself; an admin registers others.
pub(crate) fn register(
    tx: &mut Tx<'_>,
    config: &LedgerConfig,
    verified: &Verified,
    body: &RegisterIdentity,
) -> Result<Vec<u8>, ContractError> {
    let actor = body.signing_key.actor_id();
    if let Some(registration) = &body.paillier {
        check_paillier_size(config, registration)?;
    }
    check_common(body)?;
    if tx.exists(&keys::identity(&actor))? {
        return Err(ContractError::exists("identity", &actor));
    }
    let by = verified.statement.iss.clone();
    match body.role {
        Role::Patient => {
            if by != actor {
                return Err(ContractError::Forbidden(
                    "patients register themselves: the statement must be signed by the key it registers"
                        .into(),
                ));
            }
            let registration = body.paillier.as_ref().ok_or_else(|| {
                ContractError::invalid(
                    "paillier",
                    "expected a Paillier key and proof for a patient",
                )
            })?;
            check_paillier(registration)?;
        }
        Role::Doctor | Role::Insurer | Role::Admin => {
            verified.signer_as(Role::Admin, "register doctors, insurers or admins")?;
            if body.paillier.is_some() {
                return Err(ContractError::invalid(
                    "paillier",
                    "expected no Paillier key for a non-patient",
                ));
            }
        }
    }
    store(tx, body, &actor, &by)?;
    respond(&Registered {
        actor,
        role: body.role,
    })
}

/// `suspend_identity`: an admin suspends an identity at once.
pub(crate) fn suspend(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &SuspendIdentity,
) -> Result<Vec<u8>, ContractError> {
    let admin = verified.signer_as(Role::Admin, "suspend identities")?;
    if body.actor == admin.actor {
        return Err(ContractError::Forbidden(
            "an admin cannot suspend itself".into(),
        ));
    }
    let key = keys::identity(&body.actor);
    let mut identity: Identity = tx.load(&key, "identity", &body.actor)?;
    if !identity.active {
        return Err(ContractError::Conflict(format!(
            "identity {} is already suspended",
            body.actor
        )));
    }
    if body.reason.trim().is_empty() || body.reason.chars().count() > MAX_NAME_LEN {
        return Err(ContractError::invalid(
            "reason",
            format!("expected 1 to {MAX_NAME_LEN} characters"),
        ));
    }
    identity.active = false;
    identity.suspension = Some(body.reason.clone());
    tx.put(&key, &identity)?;
    let by = admin.actor.clone();
    tx.emit(Event::IdentitySuspended(IdentityEvent {
        actor: body.actor.clone(),
        role: identity.role,
        by,
    }))?;
    respond(&Registered {
        actor: body.actor.clone(),
        role: identity.role,
    })
}
