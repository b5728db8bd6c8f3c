//! The contract's entry point: function dispatch, statement verification and
//! the typed state helpers every transaction uses.
//!
//! Functions (Fabric-style: a name and UTF-8 arguments):
//!
//! | function | args | what |
//! |---|---|---|
//! | `init` | config JSON (`audience`, optional `max_skew_secs`, `max_lifetime_secs`, `rules`, `max_paillier_bits`), admin's self-signed `register_identity` | genesis: fixes the audience, the storage rules and the Paillier modulus cap, registers the first admin |
//! | `submit` | compact JWS | any signed action; returns a JSON result |
//! | queries (see [`crate::queries`]) | ids, cursors | read-only views |
//!
//! # Verification of a statement (`submit`)
//!
//! 1. The statement's `iss` must be a registered, active identity — except a
//!    patient's self-registration, verified under the key it registers.
//! 2. Signature (ES256 only; from rules 3 low-S only and no `crit` header),
//!    `typ`, `aud` = this ledger's audience.
//! 3. Time, against the transaction timestamp `now`: `iat ≤ now + max_skew`
//!    (default 300 s: phones' clocks drift), `now < exp`, and
//!    `0 < exp − iat ≤ max_lifetime` (default 3600 s).
//! 4. `jti` never used before by that signer (kept for ever under
//!    `nonce/{iss}/{jti}`; expiry already bounds how long a replay could
//!    matter, the record keeps the audit simple).
//! 5. The signer's role may perform the action; then the action's own rules.

use serde::Serialize;
use serde::de::DeserializeOwned;

use carechain_core::identity::VerifyingKey;
use carechain_core::ledger::Event;
use carechain_core::statement::{Action, JwsRules, Role, Statement, VerifyPolicy};

use crate::error::ContractError;
use crate::model::{LedgerConfig, Signer, keys};
use crate::stub::{Chaincode, ChaincodeError, Stub};
use crate::{consent, identities, insurance, queries, records};

/// Default allowed clock skew for `iat`.
pub const DEFAULT_MAX_SKEW_SECS: i64 = 300;
/// Default longest statement lifetime.
pub const DEFAULT_MAX_LIFETIME_SECS: i64 = 3600;
/// The storage rules a new ledger should be initialised with (`"rules"` in
/// the `init` config; absent means 0). 1: consent checks read the index of
/// live grants (see `consent`). 2: an insurer accepts a purchase without
/// ciphertexts (the claim check computes `E(M_i) = (1+n)^{M_i}` from the
/// product) or declines it with a reason (see `insurance`). 3: statements
/// are verified strictly (low-S signatures only, no `crit`; see
/// [`STRICT_JWS_RULES`]), a record write carries the doctor-signed treatment
/// facts (see `records`), and a treatment is paid at most once across every
/// policy (see `insurance`).
pub const CURRENT_RULES: u32 = 3;
/// The storage rules from which statements are verified with
/// [`Statement::verify_strict`]: a high-S signature or a `crit` header is
/// refused. Older ledgers keep [`Statement::verify`], so their chains replay.
pub const STRICT_JWS_RULES: u32 = 3;
/// The Paillier modulus cap a new ledger should be initialised with
/// (`"max_paillier_bits"` in the `init` config; absent means no cap below the
/// library's 8192 bits, as on ledgers started before the cap existed). An
/// 8192-bit key costs ~40× the contract CPU of a 3072-bit one per claim.
pub const DEFAULT_MAX_PAILLIER_BITS: u32 = 3072;

/// The CareChain contract.
#[derive(Debug, Default, Clone, Copy)]
pub struct CareChain;

impl Chaincode for CareChain {
    fn invoke(
        &self,
        stub: &mut dyn Stub,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, ChaincodeError> {
        let mut tx = Tx { stub };
        let result = match function {
            "init" => identities::init(&mut tx, args),
            "submit" => submit(&mut tx, args),
            query => queries::dispatch(&mut tx, query, args),
        };
        result.map_err(ChaincodeError::from)
    }
}

/// A verified statement and its signer, ready for the action's rules.
pub(crate) struct Verified {
    /// The claims.
    pub statement: Statement,
    /// The signer, registered before this statement (`None` for a self-registration).
    pub signer: Option<Signer>,
    /// The ledger's storage rules (`LedgerConfig::rules`).
    pub rules: u32,
}

impl Verified {
    /// The signer, who must be registered (everyone but a registering patient).
    pub fn signer(&self) -> Result<&Signer, ContractError> {
        self.signer
            .as_ref()
            .ok_or_else(|| ContractError::UnknownSigner(self.statement.iss.clone()))
    }

    /// The signer, who must have `role`.
    pub fn signer_as(&self, role: Role, action: &'static str) -> Result<&Signer, ContractError> {
        let signer = self.signer()?;
        if signer.role != role {
            return Err(ContractError::WrongRole {
                action,
                expected: role,
                found: signer.role,
            });
        }
        Ok(signer)
    }
}

fn submit(tx: &mut Tx<'_>, args: &[Vec<u8>]) -> Result<Vec<u8>, ContractError> {
    let [token] = args else {
        return Err(ContractError::BadArguments(format!(
            "submit takes 1 argument (a compact JWS), found {}",
            args.len()
        )));
    };
    let token = std::str::from_utf8(token)
        .map_err(|_| ContractError::BadArguments("the statement is not UTF-8".into()))?;
    let config = tx.config()?;
    let verified = verify(tx, &config, token)?;
    let nonce_key = keys::nonce(&verified.statement.iss, &verified.statement.jti);
    if tx.stub.get_state(&nonce_key)?.is_some() {
        return Err(ContractError::ReplayedNonce {
            iss: verified.statement.iss.clone(),
            jti: verified.statement.jti.clone(),
        });
    }
    let tx_id = tx.stub.tx_id().to_owned();
    tx.stub.put_state(&nonce_key, tx_id.into_bytes())?;

    match &verified.statement.act {
        Action::RegisterIdentity(body) => identities::register(tx, &config, &verified, body),
        Action::SuspendIdentity(body) => identities::suspend(tx, &verified, body),
        Action::AccessRequest(body) => consent::request(tx, &verified, body),
        Action::Grant(body) => consent::grant(tx, &verified, body),
        Action::Deny(body) => consent::deny(tx, &verified, body),
        Action::Revoke(body) => consent::revoke(tx, &verified, body),
        Action::WriteRecord(body) => records::write(tx, &config, &verified, body, token),
        Action::ReadRecord(body) => records::read(tx, &verified, body),
        Action::PublishProduct(body) => insurance::publish(tx, &verified, body),
        Action::PurchasePolicy(body) => insurance::purchase(tx, &verified, body),
        Action::IssuePolicy(body) => insurance::issue(tx, &verified, body),
        Action::DeclinePolicy(body) => insurance::decline(tx, &verified, body),
        Action::FileClaim(body) => insurance::claim(tx, &verified, body),
        Action::MarkPaid(body) => insurance::mark_paid(tx, &verified, body),
    }
}

/// Checks a statement's signature, signer and time window (steps 1–3).
pub(crate) fn verify(
    tx: &mut Tx<'_>,
    config: &LedgerConfig,
    token: &str,
) -> Result<Verified, ContractError> {
    let claimed = Statement::peek(token)?;
    let signer: Option<Signer> = tx.get(&keys::identity(&claimed.iss))?;
    let key: VerifyingKey = match (&signer, &claimed.act) {
        (Some(identity), _) => {
            if !identity.active {
                return Err(ContractError::SignerSuspended(identity.actor.clone()));
            }
            identity.signing_key.clone()
        }
        (None, Action::RegisterIdentity(body)) if body.role == Role::Patient => {
            // An oversized Paillier key is refused before the signature is
            // even checked: a self-registration needs no account, so its
            // refusal must cost next to nothing.
            if let Some(registration) = &body.paillier {
                identities::check_paillier_size(config, registration)?;
            }
            body.signing_key.clone()
        }
        (None, _) => return Err(ContractError::UnknownSigner(claimed.iss)),
    };
    let policy = VerifyPolicy {
        audience: &config.audience,
        now: tx.now(),
        max_skew_secs: config.max_skew_secs,
        max_lifetime_secs: config.max_lifetime_secs,
    };
    let statement = Statement::verify_with_rules(token, &key, &policy, jws_rules(config.rules))?;
    Ok(Verified {
        statement,
        signer,
        rules: config.rules,
    })
}

/// The JWS acceptance of a ledger under storage `rules`.
pub(crate) fn jws_rules(rules: u32) -> JwsRules {
    if rules >= STRICT_JWS_RULES {
        JwsRules::Strict
    } else {
        JwsRules::Legacy
    }
}

/// One transaction's access to state, with JSON helpers.
pub(crate) struct Tx<'a> {
    /// The stub.
    pub stub: &'a mut dyn Stub,
}

impl Tx<'_> {
    /// The transaction time, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.stub.tx_timestamp().seconds
    }

    /// The ledger configuration; refuses if not initialised.
    pub fn config(&mut self) -> Result<LedgerConfig, ContractError> {
        self.get(keys::CONFIG)?.ok_or(ContractError::NotInitialised)
    }

    /// Reads and decodes a JSON value.
    pub fn get<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, ContractError> {
        match self.stub.get_state(key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|err| {
                ContractError::CorruptState {
                    key: key.to_owned(),
                    reason: err.to_string(),
                }
            }),
        }
    }

    /// Reads a value that must exist.
    pub fn load<T: DeserializeOwned>(
        &mut self,
        key: &str,
        kind: &'static str,
        id: impl ToString,
    ) -> Result<T, ContractError> {
        self.get(key)?
            .ok_or_else(|| ContractError::not_found(kind, id))
    }

    /// Whether a key is present.
    pub fn exists(&mut self, key: &str) -> Result<bool, ContractError> {
        Ok(self.stub.get_state(key)?.is_some())
    }

    /// Encodes and writes a JSON value.
    pub fn put<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), ContractError> {
        let bytes = serde_json::to_vec(value).map_err(|err| ContractError::CorruptState {
            key: key.to_owned(),
            reason: err.to_string(),
        })?;
        Ok(self.stub.put_state(key, bytes)?)
    }

    /// Writes an index entry (an empty value).
    pub fn index(&mut self, key: &str) -> Result<(), ContractError> {
        Ok(self.stub.put_state(key, Vec::new())?)
    }

    /// Emits the transaction's event.
    pub fn emit(&mut self, event: Event) -> Result<(), ContractError> {
        Ok(self.stub.set_event(event.name(), event.payload())?)
    }

    /// The last path segment of the first `limit` keys under `prefix` after
    /// `after`, in order: a range iterator closed after `limit` rows, so it
    /// costs O(`limit`) (usable in any transaction).
    pub fn ids_under(
        &mut self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, ContractError> {
        let (start, end) = range_under(prefix, after);
        let rows = self.stub.get_state_by_range_limited(&start, &end, limit)?;
        Ok(strip(prefix, rows))
    }

    /// As [`Tx::ids_under`], through Fabric's paginated range query (read-only
    /// transactions only: the queries), with whether more keys follow: a full
    /// page whose bookmark is empty was the last (the peer's bookmark is the
    /// next key, empty once the range is exhausted).
    pub fn page_under(
        &mut self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), ContractError> {
        let (start, end) = range_under(prefix, after);
        let page = self
            .stub
            .get_state_by_range_with_pagination(&start, &end, limit, "")?;
        let full = page.rows.len() == limit;
        let more = full && !page.bookmark.is_empty();
        Ok((strip(prefix, page.rows), more))
    }
}

/// The key range of the ids under `prefix` after `after`.
fn range_under(prefix: &str, after: Option<&str>) -> (String, String) {
    let start = match after {
        // The smallest key strictly greater than `prefix + after`.
        Some(after) => format!("{prefix}{after}\u{1}"),
        None => prefix.to_owned(),
    };
    (start, keys::prefix_end(prefix))
}

fn strip(prefix: &str, rows: Vec<(String, Vec<u8>)>) -> Vec<String> {
    rows.into_iter()
        .filter_map(|(key, _)| key.strip_prefix(prefix).map(str::to_owned))
        .collect()
}

/// Serialises a transaction result.
pub(crate) fn respond<T: Serialize>(value: &T) -> Result<Vec<u8>, ContractError> {
    serde_json::to_vec(value).map_err(|err| ContractError::CorruptState {
        key: "result".into(),
        reason: err.to_string(),
    })
}
