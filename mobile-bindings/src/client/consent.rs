//! Consent and records: access requests, grants, the patient's records
//! decrypted and checked on the phone, and the access log.

use carechain_core::OsRng;
use carechain_core::envelope::{self, HpkePublicKey, SealedPayload, WrappedKey};
use carechain_core::icd10::{Icd10Category, Icd10Code};
use carechain_core::ids::{ActorId, RecordId, RequestId};
use carechain_core::statement::{Action, Deny, Grant, RecordKey, Revoke, Scope};
use carechain_core::wallet::Wallet as CoreWallet;
use serde_json::Value;

use super::{Inner, RelayClient, wire};
use crate::error::{MobileError, integrity, invalid};
use crate::runtime;
use crate::types::{
    AccessKind, AccessLogEntry, AccessRequest, CodeCheck, MedicalRecord, RecordCategory,
    RequestStatus, categories_of,
};

/// The FHIR system URI of ICD-10-CM.
const ICD10_CM_SYSTEM: &str = "http://hl7.org/fhir/sid/icd-10-cm";

#[uniffi::export]
impl RelayClient {
    /// Access requests waiting for the patient's answer.
    pub async fn pending_requests(&self) -> Result<Vec<AccessRequest>, MobileError> {
        let inner = self.inner.clone();
        runtime::spawn(async move { inner.requests(Some("pending")).await }).await
    }

    /// Every access request made of the patient, any status.
    pub async fn access_requests(&self) -> Result<Vec<AccessRequest>, MobileError> {
        let inner = self.inner.clone();
        runtime::spawn(async move { inner.requests(None).await }).await
    }

    /// Current grants (granted and not yet expired).
    pub async fn grants(&self) -> Result<Vec<AccessRequest>, MobileError> {
        let inner = self.inner.clone();
        runtime::spawn(async move {
            let now = crate::wallet::now();
            Ok(inner
                .requests(Some("granted"))
                .await?
                .into_iter()
                .filter(|r| r.expires_at.is_some_and(|t| t > now))
                .collect())
        })
        .await
    }

    /// Grants request `request_id`: `actions` and `categories` (`None` for
    /// every category) no wider than asked, until `expires_at` (Unix seconds).
    pub async fn approve(
        &self,
        request_id: String,
        actions: Vec<AccessKind>,
        categories: Option<Vec<RecordCategory>>,
        expires_at: i64,
    ) -> Result<(), MobileError> {
        let request: RequestId = parse_id(&request_id, "request_id")?;
        if actions.is_empty() {
            return Err(invalid("actions: expected at least one action"));
        }
        if expires_at <= crate::wallet::now() {
            return Err(invalid(format!(
                "expires_at: expected a time in the future, found {expires_at}"
            )));
        }
        let scope = match categories {
            None => Scope::All,
            Some(list) if list.is_empty() => {
                return Err(invalid("categories: expected None (all) or at least one"));
            }
            Some(list) => Scope::Categories(list.into_iter().map(Into::into).collect()),
        };
        let inner = self.inner.clone();
        runtime::spawn(async move {
            // A read grant carries the data key of every record in scope,
            // re-wrapped on the phone for the doctor; the contract refuses a
            // grant that misses one.
            let keys = if actions.contains(&AccessKind::Read) {
                inner.rewrapped_keys(&request_id, &scope).await?
            } else {
                Vec::new()
            };
            let action = Action::Grant(Grant {
                request,
                actions: actions.into_iter().map(Into::into).collect(),
                scope,
                expires_at,
                keys,
            });
            inner
                .submit(&format!("v1/requests/{request_id}/grant"), action)
                .await
                .map(|_| ())
        })
        .await
    }

    /// Refuses request `request_id`.
    pub async fn deny(&self, request_id: String) -> Result<(), MobileError> {
        let request: RequestId = parse_id(&request_id, "request_id")?;
        let inner = self.inner.clone();
        runtime::spawn(async move {
            let action = Action::Deny(Deny { request });
            inner
                .submit(&format!("v1/requests/{request_id}/deny"), action)
                .await
                .map(|_| ())
        })
        .await
    }

    /// Withdraws the grant of request `request_id`, effective at once.
    pub async fn revoke(&self, request_id: String) -> Result<(), MobileError> {
        let request: RequestId = parse_id(&request_id, "request_id")?;
        let inner = self.inner.clone();
        runtime::spawn(async move {
            let action = Action::Revoke(Revoke { request });
            inner
                .submit(&format!("v1/requests/{request_id}/revoke"), action)
                .await
                .map(|_| ())
        })
        .await
    }

    /// The patient's records, decrypted on the phone, each with the check of
    /// its encrypted diagnosis code against the payload.
    pub async fn records(&self) -> Result<Vec<MedicalRecord>, MobileError> {
        let inner = self.inner.clone();
        runtime::spawn(async move {
            let listed: Vec<wire::RecordState> = inner.list_all("v1/patients/me/records").await?;
            let mut out = Vec::with_capacity(listed.len());
            for record in listed {
                out.push(inner.record(&record.record).await?);
            }
            Ok(out)
        })
        .await
    }

    /// One of the patient's records, decrypted and checked.
    pub async fn record(&self, record_id: String) -> Result<MedicalRecord, MobileError> {
        parse_id::<RecordId>(&record_id, "record_id")?;
        let inner = self.inner.clone();
        runtime::spawn(async move { inner.record(&record_id).await }).await
    }

    /// Who read the patient's records, and when.
    pub async fn access_log(&self) -> Result<Vec<AccessLogEntry>, MobileError> {
        let inner = self.inner.clone();
        runtime::spawn(async move {
            let entries: Vec<wire::AccessLogEntry> =
                inner.list_all("v1/patients/me/access-log").await?;
            Ok(entries
                .into_iter()
                .map(|e| AccessLogEntry {
                    reader_id: e.reader,
                    record_id: e.record,
                    at: e.at,
                    tx_id: e.tx_id,
                })
                .collect())
        })
        .await
    }
}

impl Inner {
    /// The patient's requests, optionally of one status.
    async fn requests(&self, status: Option<&str>) -> Result<Vec<AccessRequest>, MobileError> {
        let path = match status {
            Some(s) => format!("v1/requests?status={s}"),
            None => "v1/requests".to_owned(),
        };
        let states: Vec<wire::AccessRequestState> = self.list_all(&path).await?;
        states.into_iter().map(request_view).collect()
    }

    /// The data keys of the patient's records in `scope`, unwrapped with the
    /// patient's HPKE key and wrapped again for the doctor of `request_id`,
    /// whose HPKE key the ledger publishes.
    async fn rewrapped_keys(
        &self,
        request_id: &str,
        scope: &Scope,
    ) -> Result<Vec<RecordKey>, MobileError> {
        let request: wire::AccessRequestState =
            self.get(&format!("v1/requests/{request_id}")).await?;
        let doctor: wire::IdentityKeys = self
            .get(&format!("v1/identities/{}", request.doctor))
            .await?;
        let doctor_key = HpkePublicKey::from_bytes(doctor.hpke_key.as_bytes()).map_err(|e| {
            integrity(format!(
                "doctor {}: published HPKE key: {e}",
                request.doctor
            ))
        })?;
        let listed: Vec<wire::RecordState> = self.list_all("v1/patients/me/records").await?;
        let mut held = Vec::new();
        for record in listed.into_iter().filter(|r| scope.covers(r.category)) {
            let read: wire::RecordRead = self.get(&format!("v1/records/{}", record.record)).await?;
            held.push((record.record, read.key));
        }
        let wallet = self.wallet.clone();
        runtime::blocking(move || {
            let wallet = wallet.lock()?;
            let patient = wallet.actor_id();
            held.into_iter()
                .map(|(id, key)| {
                    let record: RecordId = id
                        .parse()
                        .map_err(|e| integrity(format!("record id {id:?}: {e}")))?;
                    let wrapped = WrappedKey {
                        enc: key.enc,
                        ciphertext: key.ciphertext,
                    }
                    .rewrap_for(
                        wallet.hpke_key(),
                        &doctor_key,
                        &patient,
                        &record,
                        &mut OsRng,
                    )
                    .map_err(|e| integrity(format!("record {record:?}: data key: {e}")))?;
                    Ok(RecordKey {
                        record,
                        enc: wrapped.enc,
                        ciphertext: wrapped.ciphertext,
                    })
                })
                .collect()
        })
        .await
    }

    /// Fetches, decrypts and checks one record.
    pub(crate) async fn record(&self, id: &str) -> Result<MedicalRecord, MobileError> {
        let read: wire::RecordRead = self.get(&format!("v1/records/{id}")).await?;
        let wallet = self.wallet.clone();
        runtime::blocking(move || open_record(&*wallet.lock()?, &read)).await
    }
}

/// Parses an id argument.
pub(crate) fn parse_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, MobileError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| invalid(format!("{what}: expected a UUID, found {text:?}: {e}")))
}

fn request_view(r: wire::AccessRequestState) -> Result<AccessRequest, MobileError> {
    let status = match r.status.as_str() {
        "pending" => RequestStatus::Pending,
        "granted" => RequestStatus::Granted,
        "denied" => RequestStatus::Denied,
        "revoked" => RequestStatus::Revoked,
        other => {
            return Err(integrity(format!(
                "request {}: unknown status {other:?}",
                r.request
            )));
        }
    };
    Ok(AccessRequest {
        request_id: r.request,
        doctor_id: r.doctor,
        actions: r.actions.into_iter().map(Into::into).collect(),
        categories: categories_of(&r.scope),
        purpose: r.purpose,
        duration_secs: r.duration_secs,
        requested_at: r.requested_at,
        status,
        granted_actions: r
            .grant
            .as_ref()
            .map(|g| g.actions.iter().map(|&a| a.into()).collect()),
        expires_at: r.grant.map(|g| g.expires_at),
    })
}

/// Unwraps the data key, opens the payload and checks `E(code)` and
/// `E(category)` against the ICD-10-CM code in the FHIR payload.
pub(crate) fn open_record(
    wallet: &CoreWallet,
    read: &wire::RecordRead,
) -> Result<MedicalRecord, MobileError> {
    let r = &read.record;
    let patient: ActorId = wallet.actor_id();
    if r.patient != patient.as_str() {
        return Err(integrity(format!(
            "record {}: expected patient {patient}, found {}",
            r.record, r.patient
        )));
    }
    let record: RecordId = r
        .record
        .parse()
        .map_err(|e| integrity(format!("record id {:?}: {e}", r.record)))?;
    let wrapped = WrappedKey {
        enc: read.key.enc.clone(),
        ciphertext: read.key.ciphertext.clone(),
    };
    let key = wrapped
        .unwrap(wallet.hpke_key(), &patient, &record)
        .map_err(|e| integrity(format!("record {record:?}: data key: {e}")))?;
    let sealed = SealedPayload {
        nonce: r.nonce.clone(),
        ciphertext: r.payload.clone(),
    };
    let plain = envelope::open(&sealed, &key, &patient, &record)
        .map_err(|e| integrity(format!("record {}: payload: {e}", r.record)))?;
    let fhir_json = String::from_utf8(plain.to_vec())
        .map_err(|_| integrity(format!("record {}: payload is not UTF-8", r.record)))?;

    let sk = wallet.paillier_key();
    let pk = sk.public_key();
    let decrypt = |bytes: &[u8]| {
        pk.ciphertext_from_bytes(bytes)
            .and_then(|c| sk.decrypt(&c))
            .ok()
    };
    let encrypted = decrypt(r.code.as_bytes()).and_then(|v| Icd10Code::decode(v).ok());
    let encrypted_category =
        decrypt(r.code_category.as_bytes()).and_then(|v| Icd10Category::decode(v).ok());
    let in_payload = serde_json::from_str::<Value>(&fhir_json)
        .ok()
        .and_then(|v| condition_code(&v));
    let code_check = match (&in_payload, &encrypted) {
        (Some(text), Some(code))
            if text.parse::<Icd10Code>().ok().as_ref() == Some(code)
                && encrypted_category.as_ref() == Some(&code.category()) =>
        {
            CodeCheck::Verified {
                code: code.to_string(),
            }
        }
        _ => CodeCheck::Mismatch {
            in_payload,
            encrypted: encrypted.map(|c| c.to_string()),
        },
    };
    Ok(MedicalRecord {
        record_id: r.record.clone(),
        doctor_id: r.doctor.clone(),
        category: r.category.into(),
        written_at: r.written_at,
        fhir_json,
        code_check,
    })
}

/// The ICD-10-CM code of the first FHIR `Condition` in `value` (a resource or a `Bundle`).
fn condition_code(value: &Value) -> Option<String> {
    match value["resourceType"].as_str()? {
        "Condition" => value["code"]["coding"]
            .as_array()?
            .iter()
            .find(|c| c["system"].as_str() == Some(ICD10_CM_SYSTEM))
            .and_then(|c| c["code"].as_str())
            .map(str::to_owned),
        "Bundle" => value["entry"]
            .as_array()?
            .iter()
            .find_map(|e| condition_code(&e["resource"])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_icd10_code_of_a_condition_alone_or_in_a_bundle() {
        let condition = json!({"resourceType": "Condition", "code": {"coding": [
            {"system": "http://snomed.info/sct", "code": "44054006"},
            {"system": ICD10_CM_SYSTEM, "code": "E11.9"}]}});
        assert_eq!(condition_code(&condition).as_deref(), Some("E11.9"));
        let bundle = json!({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Encounter"}}, {"resource": condition}]});
        assert_eq!(condition_code(&bundle).as_deref(), Some("E11.9"));
        let other = json!({"resourceType": "Condition", "code": {"coding": [
            {"system": "http://snomed.info/sct", "code": "44054006"}]}});
        assert_eq!(condition_code(&other), None);
        assert_eq!(condition_code(&json!("E11.9")), None);
    }
}
