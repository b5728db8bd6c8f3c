//! Read-only queries. They are evaluated, not submitted: nothing is written
//! and nothing is logged, so the relay decides who may ask what. (A read of a
//! record by anyone but its patient is the `read_record` *transaction*.)
//!
//! The queries, their arguments and their checks are
//! `carechain_core::ledger::Query`; list queries return a [`Page`] whose
//! `next` is the cursor for the following page (present when more items
//! follow, so an exactly full last page ends the list).
//! A page is one paginated range read (Fabric's
//! `GetStateByRangeWithPagination`), so it costs O(`limit`) whatever the
//! number of keys under the prefix.

use serde::Serialize;
use serde::de::DeserializeOwned;

use carechain_core::ledger::{
    KeyedRecord, OwnKey, PageArgs, Query, QueryError, Reader, StatementUse,
};
pub use carechain_core::ledger::{MAX_PAGE, Page};
use carechain_core::statement::Scope;

use crate::consent::{MAX_GRANT_KEYS, current_readers};
use crate::contract::{Tx, respond};
use crate::error::ContractError;
use crate::model::{
    AccessLogEntry, AccessRequestState, ClaimState, Identity, PolicyState, ProductState,
    RecordState, WrappedKeyState, keys,
};

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
fn page_of<T: DeserializeOwned + Serialize>(
    tx: &mut Tx<'_>,
    index_prefix: &str,
    table: impl Fn(&str) -> String,
    kind: &'static str,
    page: &PageArgs,
) -> Result<Vec<u8>, ContractError> {
    let limit = page.limit;
    let (ids, more) = tx.page_under(index_prefix, page.after.as_deref(), limit)?;
    let mut items = Vec::with_capacity(ids.len());
    for id in &ids {
        items.push(tx.load::<T>(&table(id), kind, id)?);
    }
    let next = more.then(|| ids.last().cloned()).flatten();
    respond(&Page { items, next })
}

/// A page of values stored directly under a prefix (no index).
fn page_of_values<T: DeserializeOwned + Serialize>(
    tx: &mut Tx<'_>,
    prefix: &str,
    page: &PageArgs,
) -> Result<Vec<u8>, ContractError> {
    let limit = page.limit;
    let (ids, more) = tx.page_under(prefix, page.after.as_deref(), limit)?;
    let mut items = Vec::with_capacity(ids.len());
    for id in &ids {
        items.push(tx.load::<T>(&format!("{prefix}{id}"), "entry", id)?);
    }
    let next = more.then(|| ids.last().cloned()).flatten();
    respond(&Page { items, next })
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
    respond(&StatementUse {
        tx_id: tx_id.to_owned(),
    })
}

/// A page of a patient's records, each with its key wrapped for `reader`.
fn records_with_keys(
    tx: &mut Tx<'_>,
    patient: &str,
    reader: &str,
    page: &PageArgs,
) -> Result<Vec<u8>, ContractError> {
    let (ids, more) = tx.page_under(
        &format!("patient-records/{patient}/"),
        page.after.as_deref(),
        page.limit,
    )?;
    let mut items = Vec::with_capacity(ids.len());
    for id in &ids {
        let record: RecordState = tx.load(&keys::record(id), "record", id)?;
        let key: Option<WrappedKeyState> = tx.get(&keys::record_key(id, reader))?;
        items.push(KeyedRecord { record, key });
    }
    let next = more.then(|| ids.last().cloned()).flatten();
    respond(&Page { items, next })
}

/// The patient's own wrapped keys of every record in `scope`: what re-wrapping
/// them for a grant needs, in one answer (at most as many as a grant carries).
fn own_keys(tx: &mut Tx<'_>, patient: &str, scope: &Scope) -> Result<Vec<u8>, ContractError> {
    let ids = tx.ids_under(&format!("patient-records/{patient}/"), None, usize::MAX)?;
    let mut keys_in_scope = Vec::new();
    for id in &ids {
        let record: RecordState = tx.load(&keys::record(id), "record", id)?;
        if !scope.covers(record.category) {
            continue;
        }
        if keys_in_scope.len() == MAX_GRANT_KEYS {
            return Err(ContractError::Conflict(format!(
                "more than {MAX_GRANT_KEYS} records in scope: one grant carries at most that many keys"
            )));
        }
        let key: WrappedKeyState =
            tx.get(&keys::record_key(id, patient))?
                .ok_or_else(|| ContractError::CorruptState {
                    key: keys::record_key(id, patient),
                    reason: "a patient's record without the patient's key".into(),
                })?;
        keys_in_scope.push(OwnKey {
            record: record.record,
            category: record.category,
            key,
        });
    }
    respond(&keys_in_scope)
}

/// Runs the query `name`.
pub(crate) fn dispatch(
    tx: &mut Tx<'_>,
    name: &str,
    args: &[Vec<u8>],
) -> Result<Vec<u8>, ContractError> {
    let query = Query::decode(name, args).map_err(|err| match err {
        QueryError::UnknownQuery(name) => ContractError::UnknownFunction(name),
        QueryError::BadArguments(reason) => ContractError::BadArguments(reason),
    })?;
    match &query {
        Query::Config {} => {
            let config = tx.config()?;
            respond(&config)
        }
        Query::Statement { issuer, jti } => statement(tx, issuer, jti),
        Query::Identity { actor } => one::<Identity>(tx, &keys::identity(actor), "identity", actor),
        Query::Request { request } => {
            one::<AccessRequestState>(tx, &keys::request(request), "access request", request)
        }
        Query::RequestsForPatient { patient, page } => page_of::<AccessRequestState>(
            tx,
            &format!("patient-requests/{patient}/"),
            |id: &str| keys::request(id),
            "access request",
            page,
        ),
        Query::RequestsByDoctor { doctor, page } => page_of::<AccessRequestState>(
            tx,
            &format!("doctor-requests/{doctor}/"),
            |id: &str| keys::request(id),
            "access request",
            page,
        ),
        Query::Record { record } => one::<RecordState>(tx, &keys::record(record), "record", record),
        Query::RecordKey { record, reader } => {
            one::<WrappedKeyState>(tx, &keys::record_key(record, reader), "record key", record)
        }
        Query::RecordsForPatient { patient, page } => page_of::<RecordState>(
            tx,
            &format!("patient-records/{patient}/"),
            |id: &str| keys::record(id),
            "record",
            page,
        ),
        Query::RecordsWithKeys {
            patient,
            reader,
            page,
        } => records_with_keys(tx, patient, reader, page),
        Query::OwnKeys { patient, scope } => own_keys(tx, patient, scope),
        Query::Readers { patient, category } => {
            let mut actors = current_readers(tx, patient, *category)?;
            actors.insert(patient.clone());
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
        Query::AccessLog { patient, page } => {
            page_of_values::<AccessLogEntry>(tx, &format!("access/{patient}/"), page)
        }
        Query::Product { product } => {
            one::<ProductState>(tx, &keys::product(product), "product", product)
        }
        Query::Products { page } => page_of_values::<ProductState>(tx, "product/", page),
        Query::Policy { policy } => one::<PolicyState>(tx, &keys::policy(policy), "policy", policy),
        Query::PoliciesForPatient { patient, page } => page_of::<PolicyState>(
            tx,
            &format!("patient-policies/{patient}/"),
            |id: &str| keys::policy(id),
            "policy",
            page,
        ),
        Query::PoliciesForInsurer { insurer, page } => page_of::<PolicyState>(
            tx,
            &format!("insurer-policies/{insurer}/"),
            |id: &str| keys::policy(id),
            "policy",
            page,
        ),
        Query::Claim { claim } => one::<ClaimState>(tx, &keys::claim(claim), "claim", claim),
        Query::ClaimsForPatient { patient, page } => page_of::<ClaimState>(
            tx,
            &format!("patient-claims/{patient}/"),
            |id: &str| keys::claim(id),
            "claim",
            page,
        ),
        Query::ClaimsForInsurer { insurer, page } => page_of::<ClaimState>(
            tx,
            &format!("insurer-claims/{insurer}/"),
            |id: &str| keys::claim(id),
            "claim",
            page,
        ),
    }
}
