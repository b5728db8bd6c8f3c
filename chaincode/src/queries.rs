//! Read-only queries. They are evaluated, not submitted: nothing is written
//! and nothing is logged, so the relay decides who may ask what. (A read of a
//! record by anyone but its patient is the `read_record` *transaction*.)
//!
//! List queries take `(owner, after, limit)` and return a [`Page`] whose
//! `next` is the cursor for the following page (present whenever the page is
//! full, so an exactly full last page is followed by an empty one).
//! A page is one paginated range read (Fabric's
//! `GetStateByRangeWithPagination`), so it costs O(`limit`) whatever the
//! number of keys under the prefix.

use serde::Serialize;
use serde::de::DeserializeOwned;

use carechain_core::ids::{ActorId, B64};
use carechain_core::statement::RecordCategory;

use crate::consent::current_readers;
use crate::contract::{Tx, respond};
use crate::error::ContractError;
use crate::model::{
    AccessLogEntry, AccessRequestState, ClaimState, Identity, PolicyState, ProductState,
    RecordState, WrappedKeyState, keys,
};

/// Default and largest page size.
pub const MAX_PAGE: usize = 100;

/// One page of a list.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    /// The items, in key order.
    pub items: Vec<T>,
    /// The cursor to pass as `after` for the next page, if there may be one.
    pub next: Option<String>,
}

/// A reader a doctor must wrap a new record's data key for.
#[derive(Debug, Serialize)]
struct Reader {
    actor: ActorId,
    hpke_key: B64,
}

fn arg<'a>(args: &'a [Vec<u8>], i: usize, name: &str) -> Result<&'a str, ContractError> {
    let bytes = args
        .get(i)
        .ok_or_else(|| ContractError::BadArguments(format!("missing argument {i} ({name})")))?;
    std::str::from_utf8(bytes)
        .map_err(|_| ContractError::BadArguments(format!("argument {i} ({name}) is not UTF-8")))
}

fn opt_arg(args: &[Vec<u8>], i: usize) -> Option<&str> {
    args.get(i)
        .and_then(|b| std::str::from_utf8(b).ok())
        .filter(|s| !s.is_empty())
}

/// Checks that an id argument is a single path segment, so it cannot reach other tables.
fn segment<'a>(value: &'a str, name: &str) -> Result<&'a str, ContractError> {
    if value.is_empty() || value.len() > 64 || value.contains('/') || value.contains('\0') {
        return Err(ContractError::BadArguments(format!(
            "{name}: expected an id of 1 to 64 characters without '/', found {:?}",
            value.chars().take(64).collect::<String>()
        )));
    }
    Ok(value)
}

fn limit(args: &[Vec<u8>], i: usize) -> Result<usize, ContractError> {
    match opt_arg(args, i) {
        None => Ok(MAX_PAGE),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ContractError::BadArguments(format!(
                    "limit: expected 1..={MAX_PAGE}, found {text:?}"
                ))
            }),
    }
}

fn one<T: DeserializeOwned + Serialize>(
    tx: &mut Tx<'_>,
    key: &str,
    kind: &'static str,
    id: &str,
) -> Result<Vec<u8>, ContractError> {
    let value: T = tx.load(key, kind, id)?;
    respond(&value)
}

/// A page of objects listed under an index prefix.
fn page<T: DeserializeOwned + Serialize>(
    tx: &mut Tx<'_>,
    index_prefix: &str,
    table: impl Fn(&str) -> String,
    kind: &'static str,
    args: &[Vec<u8>],
    after_at: usize,
) -> Result<Vec<u8>, ContractError> {
    let after = opt_arg(args, after_at);
    let limit = limit(args, after_at + 1)?;
    let ids = tx.page_under(index_prefix, after, limit)?;
    let mut items = Vec::with_capacity(ids.len());
    for id in &ids {
        items.push(tx.load::<T>(&table(id), kind, id)?);
    }
    let next = (ids.len() == limit).then(|| ids.last().cloned()).flatten();
    respond(&Page { items, next })
}

/// A page of values stored directly under a prefix (no index).
fn page_of_values<T: DeserializeOwned + Serialize>(
    tx: &mut Tx<'_>,
    prefix: &str,
    args: &[Vec<u8>],
    after_at: usize,
) -> Result<Vec<u8>, ContractError> {
    let after = opt_arg(args, after_at);
    let limit = limit(args, after_at + 1)?;
    let ids = tx.page_under(prefix, after, limit)?;
    let mut items = Vec::with_capacity(ids.len());
    for id in &ids {
        items.push(tx.load::<T>(&format!("{prefix}{id}"), "entry", id)?);
    }
    let next = (ids.len() == limit).then(|| ids.last().cloned()).flatten();
    respond(&Page { items, next })
}

/// Which transaction used a statement's nonce (see `contract::submit`).
#[derive(Debug, Serialize)]
struct StatementUse<'a> {
    tx_id: &'a str,
}

/// The transaction that committed the statement `jti` of `iss`, or 404.
fn statement(tx: &mut Tx<'_>, iss: &str, jti: &str) -> Result<Vec<u8>, ContractError> {
    let not_found = || ContractError::NotFound {
        kind: "statement",
        id: format!("{iss}/{jti}"),
    };
    let value = tx
        .stub
        .get_state(&keys::nonce(iss, jti))?
        .ok_or_else(not_found)?;
    let tx_id = std::str::from_utf8(&value).map_err(|_| ContractError::CorruptState {
        key: keys::nonce(iss, jti),
        reason: "expected a UTF-8 transaction id".into(),
    })?;
    respond(&StatementUse { tx_id })
}

/// Runs the query `name`.
pub(crate) fn dispatch(
    tx: &mut Tx<'_>,
    name: &str,
    args: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    match name {
        "config" => {
            let config = tx.config()?;
            respond(&config)
        }
        "statement" => {
            let iss = segment(arg(args, 0, "issuer")?, "issuer")?;
            let jti = segment(arg(args, 1, "jti")?, "jti")?;
            statement(tx, iss, jti)
        }
        "identity" => {
            let id = segment(arg(args, 0, "actor")?, "actor")?;
            one::<Identity>(tx, &keys::identity(id), "identity", id)
        }
        "request" => {
            let id = segment(arg(args, 0, "request")?, "request")?;
            one::<AccessRequestState>(tx, &keys::request(id), "access request", id)
        }
        "requests_for_patient" => {
            let owner = segment(arg(args, 0, "patient")?, "patient")?;
            let prefix = format!("patient-requests/{owner}/");
            page::<AccessRequestState>(
                tx,
                &prefix,
                |id: &str| keys::request(id),
                "access request",
                args,
                1,
            )
        }
        "requests_by_doctor" => {
            let owner = segment(arg(args, 0, "doctor")?, "doctor")?;
            let prefix = format!("doctor-requests/{owner}/");
            page::<AccessRequestState>(
                tx,
                &prefix,
                |id: &str| keys::request(id),
                "access request",
                args,
                1,
            )
        }
        "record" => {
            let id = segment(arg(args, 0, "record")?, "record")?;
            one::<RecordState>(tx, &keys::record(id), "record", id)
        }
        "record_key" => {
            let record = segment(arg(args, 0, "record")?, "record")?;
            let reader = segment(arg(args, 1, "reader")?, "reader")?;
            one::<WrappedKeyState>(tx, &keys::record_key(record, reader), "record key", record)
        }
        "records_for_patient" => {
            let owner = segment(arg(args, 0, "patient")?, "patient")?;
            let prefix = format!("patient-records/{owner}/");
            page::<RecordState>(tx, &prefix, |id: &str| keys::record(id), "record", args, 1)
        }
        "readers" => {
            let patient: ActorId = arg(args, 0, "patient")?
                .parse()
                .map_err(|err| ContractError::BadArguments(format!("patient: {err}")))?;
            let category: RecordCategory =
                serde_json::from_value(serde_json::Value::String(arg(args, 1, "category")?.into()))
                    .map_err(|err| ContractError::BadArguments(format!("category: {err}")))?;
            let mut actors = current_readers(tx, &patient, category)?;
            actors.insert(patient);
            let mut readers = Vec::with_capacity(actors.len());
            for actor in actors {
                let identity: Identity = tx.load(&keys::identity(&actor), "identity", &actor)?;
                readers.push(Reader {
                    actor,
                    hpke_key: identity.hpke_key,
                });
            }
            respond(&readers)
        }
        "access_log" => {
            let owner = segment(arg(args, 0, "patient")?, "patient")?;
            page_of_values::<AccessLogEntry>(tx, &format!("access/{owner}/"), args, 1)
        }
        "product" => {
            let id = segment(arg(args, 0, "product")?, "product")?;
            one::<ProductState>(tx, &keys::product(id), "product", id)
        }
        "products" => page_of_values::<ProductState>(tx, "product/", args, 0),
        "policy" => {
            let id = segment(arg(args, 0, "policy")?, "policy")?;
            one::<PolicyState>(tx, &keys::policy(id), "policy", id)
        }
        "policies_for_patient" => {
            let owner = segment(arg(args, 0, "patient")?, "patient")?;
            let prefix = format!("patient-policies/{owner}/");
            page::<PolicyState>(tx, &prefix, |id: &str| keys::policy(id), "policy", args, 1)
        }
        "policies_for_insurer" => {
            let owner = segment(arg(args, 0, "insurer")?, "insurer")?;
            let prefix = format!("insurer-policies/{owner}/");
            page::<PolicyState>(tx, &prefix, |id: &str| keys::policy(id), "policy", args, 1)
        }
        "claim" => {
            let id = segment(arg(args, 0, "claim")?, "claim")?;
            one::<ClaimState>(tx, &keys::claim(id), "claim", id)
        }
        "claims_for_patient" => {
            let owner = segment(arg(args, 0, "patient")?, "patient")?;
            let prefix = format!("patient-claims/{owner}/");
            page::<ClaimState>(tx, &prefix, |id: &str| keys::claim(id), "claim", args, 1)
        }
        "claims_for_insurer" => {
            let owner = segment(arg(args, 0, "insurer")?, "insurer")?;
            let prefix = format!("insurer-claims/{owner}/");
            page::<ClaimState>(tx, &prefix, |id: &str| keys::claim(id), "claim", args, 1)
        }
        other => Err(ContractError::UnknownFunction(other.to_owned())),
    }
}
