//! Consent and records: access requests, grants (data keys re-wrapped on the
//! phone), the patient's records opened and checked, and the access log.

use carechain_core::OsRng;
use carechain_core::ids::{RecordId, RequestId};
use carechain_core::protocol::check::{CodeCheck, check_record_code};
use carechain_core::protocol::grant::rewrap_keys;
use carechain_core::protocol::record::open_own_record;
use carechain_core::protocol::write::reader_key;
use carechain_core::statement::{AccessAction, Action, Deny, Grant, Revoke, Scope};

use super::{PatientClient, blocking};
use crate::error::ClientError;
use crate::ledger::{AccessLogEntry, AccessRequestState, RecordState, RequestStatus};
use crate::session::{lock, now};
use crate::wire::RecordRead;

/// Which access requests to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFilter {
    /// Every request, any status.
    All,
    /// Those of one status.
    Status(RequestStatus),
    /// Granted and not yet expired.
    InForce,
}

/// One of the patient's records, decrypted on the phone and checked.
#[derive(Clone, Debug)]
pub struct OpenedRecord {
    /// The record as the ledger stores it (ciphertexts).
    pub state: RecordState,
    /// The decrypted FHIR JSON.
    pub fhir_json: String,
    /// `E(code)` and `E(category)` against the payload's ICD-10-CM code.
    pub code_check: CodeCheck,
}

impl PatientClient {
    /// The access requests made of the patient that `filter` selects.
    pub async fn requests(
        &self,
        filter: RequestFilter,
    ) -> Result<Vec<AccessRequestState>, ClientError> {
        let status = match filter {
            RequestFilter::All => None,
            RequestFilter::Status(s) => Some(s),
            RequestFilter::InForce => Some(RequestStatus::Granted),
        };
        let path = match status.map(serde_json::to_value) {
            Some(Ok(serde_json::Value::String(name))) => format!("v1/requests?status={name}"),
            _ => "v1/requests".to_owned(),
        };
        let list: Vec<AccessRequestState> = self.session.list(&path).await?;
        let now = now();
        Ok(list
            .into_iter()
            .filter(|r| {
                filter != RequestFilter::InForce
                    || r.grant.as_ref().is_some_and(|g| g.expires_at > now)
            })
            .collect())
    }

    /// Grants `request`: `actions` on `scope`, no wider than asked, until
    /// `expires_at` (Unix seconds). A read grant carries the data key of
    /// every record in scope, re-wrapped here for the doctor (the contract
    /// refuses a grant that misses one).
    pub async fn approve(
        &self,
        request: RequestId,
        actions: Vec<AccessAction>,
        scope: Scope,
        expires_at: i64,
    ) -> Result<(), ClientError> {
        if actions.is_empty() {
            return Err(ClientError::InvalidInput(
                "actions: expected at least one action".into(),
            ));
        }
        if matches!(&scope, Scope::Categories(c) if c.is_empty()) {
            return Err(ClientError::InvalidInput(
                "categories: expected all or at least one".into(),
            ));
        }
        if expires_at <= now() {
            return Err(ClientError::InvalidInput(format!(
                "expires_at: expected a time in the future, found {expires_at}"
            )));
        }
        let id = request.0;
        // A read grant: one answer holds the doctor's key and the patient's
        // own wrapped key of every record in `scope`, re-wrapped here.
        let keys = if actions.contains(&AccessAction::Read) {
            let ctx: carechain_core::ledger::GrantContext = self
                .session
                .get(&format!(
                    "v1/requests/{id}/grant-context?scope={}",
                    carechain_core::ledger::scope_text(&scope)
                ))
                .await?;
            if ctx.request.request != request || ctx.grantee.actor != ctx.request.doctor {
                return Err(ClientError::Integrity(format!(
                    "request {id}: the grant context answers for request {} and grantee {}",
                    ctx.request.request.0, ctx.grantee.actor
                )));
            }
            let held: Vec<_> = ctx
                .keys
                .into_iter()
                .filter(|k| scope.covers(k.category))
                .map(|k| {
                    let wrapped = carechain_core::envelope::WrappedKey {
                        enc: k.key.enc,
                        ciphertext: k.key.ciphertext,
                    };
                    (k.record, wrapped)
                })
                .collect();
            let doctor = ctx.grantee;
            let wallet = self.wallet.clone();
            blocking(move || {
                let grantee = reader_key(&doctor.actor, &doctor.hpke_key)?;
                let w = lock(&wallet)?;
                Ok(rewrap_keys(
                    w.hpke_key(),
                    &w.actor_id(),
                    &grantee,
                    held,
                    &mut OsRng,
                )?)
            })
            .await?
        } else {
            Vec::new()
        };
        let action = Action::Grant(Grant {
            request,
            actions,
            scope,
            expires_at,
            keys,
        });
        self.submit::<serde_json::Value>(&format!("v1/requests/{id}/grant"), action)
            .await
            .map(drop)
    }

    /// Refuses `request`.
    pub async fn deny(&self, request: RequestId) -> Result<(), ClientError> {
        let path = format!("v1/requests/{}/deny", request.0);
        self.submit::<serde_json::Value>(&path, Action::Deny(Deny { request }))
            .await
            .map(drop)
    }

    /// Withdraws the grant of `request`, effective at once.
    pub async fn revoke(&self, request: RequestId) -> Result<(), ClientError> {
        let path = format!("v1/requests/{}/revoke", request.0);
        self.submit::<serde_json::Value>(&path, Action::Revoke(Revoke { request }))
            .await
            .map(drop)
    }

    /// The patient's records, each decrypted and checked. One paged list
    /// (100 records a page) carries each record's data key wrapped for the
    /// patient, so no record is fetched again.
    pub async fn records(&self) -> Result<Vec<OpenedRecord>, ClientError> {
        /// A `KeyedRecord` of `GET /v1/patients/me/records`: the record's
        /// fields inline and the patient's wrapped data key.
        #[derive(serde::Deserialize)]
        struct Keyed {
            #[serde(flatten)]
            record: RecordState,
            key: Option<crate::ledger::WrappedKeyState>,
        }
        let listed: Vec<Keyed> = self.session.list("v1/patients/me/records").await?;
        let reads = listed
            .into_iter()
            .map(|Keyed { record, key }| match key {
                Some(key) => Ok(RecordRead {
                    tx_id: None,
                    record,
                    key,
                }),
                None => Err(ClientError::Integrity(format!(
                    "record {}: the ledger holds no data key for its patient",
                    record.record.0
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Opening is two Paillier decryptions a record (E(code), E(category)):
        // split the records over the cores, the wallet borrowed under its lock.
        let wallet = self.wallet.clone();
        blocking(move || {
            let guard = lock(&wallet)?;
            let w: &carechain_core::wallet::Wallet = &guard;
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let chunk = reads.len().div_ceil(cores).max(1);
            std::thread::scope(|s| {
                let parts: Vec<_> = reads
                    .chunks(chunk)
                    .map(|part| {
                        s.spawn(move || {
                            part.iter()
                                .map(|r| open(w, r))
                                .collect::<Result<Vec<_>, ClientError>>()
                        })
                    })
                    .collect();
                let mut opened = Vec::with_capacity(reads.len());
                for part in parts {
                    let part = part
                        .join()
                        .map_err(|_| ClientError::Internal("opening a record panicked".into()))??;
                    opened.extend(part);
                }
                Ok(opened)
            })
        })
        .await
    }

    /// One of the patient's records, decrypted and checked.
    pub async fn record(&self, record: RecordId) -> Result<OpenedRecord, ClientError> {
        let read: RecordRead = self
            .session
            .get(&format!("v1/records/{}", record.0))
            .await?;
        let wallet = self.wallet.clone();
        blocking(move || open(&*lock(&wallet)?, &read)).await
    }

    /// Who read the patient's records, and when.
    pub async fn access_log(&self) -> Result<Vec<AccessLogEntry>, ClientError> {
        self.session.list("v1/patients/me/access-log").await
    }
}

/// Opens a record read with the wallet and checks its `E(code)`.
fn open(
    wallet: &carechain_core::wallet::Wallet,
    read: &RecordRead,
) -> Result<OpenedRecord, ClientError> {
    let r = &read.record;
    let (sealed, wrapped) = read.envelope();
    let fhir_json = open_own_record(
        wallet.hpke_key(),
        &wallet.actor_id(),
        &r.patient,
        &r.record,
        &sealed,
        &wrapped,
    )?;
    let code_check =
        check_record_code(wallet.paillier_key(), &r.code, &r.code_category, &fhir_json);
    Ok(OpenedRecord {
        state: r.clone(),
        fhir_json,
        code_check,
    })
}
