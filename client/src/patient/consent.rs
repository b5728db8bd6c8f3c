//! Consent and records: access requests, grants (data keys re-wrapped on the
//! phone), the patient's records opened and checked, and the access log.

use carechain_core::OsRng;
use carechain_core::ids::{RecordId, RequestId};
use carechain_core::protocol::check::{CodeCheck, check_record_code, check_record_codes};
use carechain_core::protocol::grant::rewrap_keys;
use carechain_core::protocol::record::open_own_record;
use carechain_core::protocol::write::reader_key;
use carechain_core::statement::{AccessAction, Action, Deny, Grant, Revoke, Scope};

use super::{PatientClient, blocking};
use crate::error::ClientError;
use crate::session::{lock, now};
use crate::wire::{RecordRead, envelope};
use carechain_core::envelope::WrappedKey;
use carechain_core::ledger::{
    AccessLogEntry, AccessRequestState, GrantContext, KeyedRecord, RecordState, RequestStatus,
    WrappedKeyState, scope_text,
};

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
        // One answer holds the request, the doctor's key and the patient's
        // own wrapped keys of every record in scope, whatever the history.
        let keys = if actions.contains(&AccessAction::Read) {
            let context: GrantContext = self
                .session
                .get(&format!(
                    "v1/requests/{id}/grant-context?scope={}",
                    scope_text(&scope)
                ))
                .await?;
            if context.request.request != request || context.grantee.actor != context.request.doctor
            {
                return Err(ClientError::Integrity(format!(
                    "request {id}: the grant context answers for request {} and grantee {}",
                    context.request.request.0, context.grantee.actor
                )));
            }
            let wallet = self.wallet.clone();
            blocking(move || {
                let grantee = reader_key(&context.grantee.actor, &context.grantee.hpke_key)?;
                let held = context.keys.into_iter().map(|k| {
                    let wrapped = WrappedKey {
                        enc: k.key.enc,
                        ciphertext: k.key.ciphertext,
                    };
                    (k.record, wrapped)
                });
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

    /// The patient's records, each decrypted and checked: one paged list,
    /// each record with its data key inline, and one batch check of every
    /// record's `E(code)` (each record is decrypted only if that fails).
    pub async fn records(&self) -> Result<Vec<OpenedRecord>, ClientError> {
        let listed: Vec<KeyedRecord> = self.session.list("v1/patients/me/records").await?;
        let wallet = self.wallet.clone();
        blocking(move || {
            let guard = lock(&wallet)?;
            let w: &carechain_core::wallet::Wallet = &guard;
            // Opening is an HPKE unwrap and an AEAD decryption a record, and
            // the batch check a few multiplications a record: each core takes
            // a share of the records, the wallet borrowed under its lock.
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let share = listed.len().div_ceil(cores).max(1);
            let mut shares: Vec<Vec<KeyedRecord>> = Vec::new();
            let mut rest = listed.into_iter().peekable();
            while rest.peek().is_some() {
                shares.push(rest.by_ref().take(share).collect());
            }
            std::thread::scope(|scope| {
                let running: Vec<_> = shares
                    .into_iter()
                    .map(|part| scope.spawn(move || open_and_check(w, part)))
                    .collect();
                let mut opened = Vec::new();
                for part in running {
                    let part = part
                        .join()
                        .map_err(|_| ClientError::Internal("opening records panicked".into()))??;
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
        blocking(move || open(&*lock(&wallet)?, read.record, &read.key)).await
    }

    /// Who read the patient's records, and when.
    pub async fn access_log(&self) -> Result<Vec<AccessLogEntry>, ClientError> {
        self.session.list("v1/patients/me/access-log").await
    }
}

/// Opens a record with the wallet and checks its `E(code)`.
fn open(
    wallet: &carechain_core::wallet::Wallet,
    record: RecordState,
    key: &WrappedKeyState,
) -> Result<OpenedRecord, ClientError> {
    let fhir_json = open_payload(wallet, &record, key)?;
    let code_check = check_record_code(
        wallet.paillier_key(),
        &record.code,
        &record.code_category,
        &fhir_json,
    );
    Ok(OpenedRecord {
        state: record,
        fhir_json,
        code_check,
    })
}

/// Decrypts a record's FHIR payload with the wallet's key.
fn open_payload(
    wallet: &carechain_core::wallet::Wallet,
    record: &RecordState,
    key: &WrappedKeyState,
) -> Result<String, ClientError> {
    let (sealed, wrapped) = envelope(record, key);
    Ok(open_own_record(
        wallet.hpke_key(),
        &wallet.actor_id(),
        &record.patient,
        &record.record,
        &sealed,
        &wrapped,
    )?)
}

/// Opens a share of the patient's records and checks their `E(code)` in one batch.
fn open_and_check(
    wallet: &carechain_core::wallet::Wallet,
    records: Vec<KeyedRecord>,
) -> Result<Vec<OpenedRecord>, ClientError> {
    let opened = records
        .into_iter()
        .map(|k| {
            let key = k.key.ok_or_else(|| {
                ClientError::Integrity(format!(
                    "record {}: no data key wrapped for the patient",
                    k.record.record.0
                ))
            })?;
            let fhir_json = open_payload(wallet, &k.record, &key)?;
            Ok((k.record, fhir_json))
        })
        .collect::<Result<Vec<_>, ClientError>>()?;
    let claims: Vec<_> = opened
        .iter()
        .map(|(r, fhir)| (&r.code, &r.code_category, fhir.as_str()))
        .collect();
    let checks = check_record_codes(wallet.paillier_key(), &claims, &mut OsRng);
    Ok(opened
        .into_iter()
        .zip(checks)
        .map(|((state, fhir_json), code_check)| OpenedRecord {
            state,
            fhir_json,
            code_check,
        })
        .collect())
}
