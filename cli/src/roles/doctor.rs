//! The doctor's actions: request access, list grants, write and read records.

use serde_json::Value;

use carechain_core::OsRng;
use carechain_core::envelope::{self, DataKey, HpkePublicKey, SealedPayload, WrappedKey};
use carechain_core::ids::{ActorId, B64, RecordId, RequestId};
use carechain_core::paillier::PublicKey;
use carechain_core::statement::{
    AccessAction, AccessRequest, Action, PurposeOfUse, ReadRecord, ReaderKey, RecordCategory,
    Scope, WriteRecord,
};

use super::{ActionError, Staff, parse_id};
use crate::fhir::ValidRecord;

fn b64(value: &Value, what: &str) -> Result<B64, ActionError> {
    value
        .as_str()
        .and_then(|s| B64::decode(s).ok())
        .ok_or_else(|| ActionError::Crypto(format!("{what}: expected base64url")))
}

/// A record category from its wire name (`general`, `laboratory`, …).
pub fn category(name: &str) -> Result<RecordCategory, ActionError> {
    serde_json::from_value(Value::String(name.to_owned())).map_err(|_| {
        ActionError::Invalid(format!(
            "category: expected general, laboratory, imaging, mental-health, sexual-health or substance-use, found {name:?}"
        ))
    })
}

impl Staff {
    /// Asks `patient` for `actions` on every record for `days` days; returns the request id.
    pub async fn request_access(
        &self,
        patient: &str,
        actions: Vec<AccessAction>,
        days: u32,
    ) -> Result<String, ActionError> {
        let patient: ActorId = parse_id(patient, "patient")?;
        let request = RequestId::random(&mut OsRng);
        let act = Action::AccessRequest(AccessRequest {
            request,
            patient,
            actions,
            scope: Scope::All,
            purpose: PurposeOfUse::Treat,
            duration_secs: i64::from(days) * 86_400,
        });
        self.submit("v1/requests", act).await?;
        Ok(request.0.to_string())
    }

    /// This doctor's requests with `status` (`granted`, `pending`, …), or all.
    pub async fn requests(&self, status: Option<&str>) -> Result<Vec<Value>, ActionError> {
        let path = match status {
            Some(s) => format!("v1/requests?status={s}"),
            None => "v1/requests".into(),
        };
        Ok(self.relay.list_all(&path).await?)
    }

    /// The patient's Paillier public key, from the relay's identity directory.
    pub async fn paillier_key(&self, patient: &str) -> Result<PublicKey, ActionError> {
        let identity = self.relay.get(&format!("v1/identities/{patient}")).await?;
        let bytes = b64(
            &identity["paillier"]["public_key"],
            "patient's Paillier key",
        )?;
        PublicKey::from_bytes(bytes.as_bytes())
            .map_err(|e| ActionError::Crypto(format!("patient's Paillier key: {e}")))
    }

    /// Encrypts validated `record` for `patient` and every reader the relay
    /// lists, with `E(code)` and `E(category)` under the patient's Paillier
    /// key, and writes it; returns the record id.
    pub async fn write_record(
        &self,
        patient: &str,
        record: &ValidRecord,
        category: RecordCategory,
    ) -> Result<String, ActionError> {
        let patient_id: ActorId = parse_id(patient, "patient")?;
        let category_name = serde_json::to_value(category)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let readers = self
            .relay
            .get(&format!(
                "v1/patients/{patient}/readers?category={category_name}"
            ))
            .await?;
        let pk = self.paillier_key(patient).await?;
        let id = RecordId::random(&mut OsRng);
        let data_key = DataKey::generate(&mut OsRng);
        let plain = record.json.to_string();
        let sealed = envelope::seal(plain.as_bytes(), &data_key, &patient_id, &id, &mut OsRng);
        let mut keys = Vec::new();
        for r in readers.as_array().into_iter().flatten() {
            let reader: ActorId = parse_id(r["actor"].as_str().unwrap_or(""), "reader")?;
            let hpke = HpkePublicKey::from_bytes(b64(&r["hpke_key"], "reader key")?.as_bytes())
                .map_err(|e| ActionError::Crypto(format!("reader {reader}: {e}")))?;
            let wrapped = data_key
                .wrap_for(&hpke, &patient_id, &id, &mut OsRng)
                .map_err(|e| ActionError::Crypto(format!("wrap for {reader}: {e}")))?;
            keys.push(ReaderKey {
                reader,
                enc: wrapped.enc,
                ciphertext: wrapped.ciphertext,
            });
        }
        let act = Action::WriteRecord(WriteRecord {
            record: id,
            patient: patient_id,
            category,
            nonce: sealed.nonce,
            payload: sealed.ciphertext,
            keys,
            code: B64(pk.encrypt(record.code.encode(), &mut OsRng).to_bytes()),
            code_category: B64(pk
                .encrypt(record.code.category().encode(), &mut OsRng)
                .to_bytes()),
        });
        self.submit("v1/records", act).await?;
        Ok(id.0.to_string())
    }

    /// Reads record `record` (a logged ledger read) and decrypts its FHIR JSON.
    pub async fn read_record(&self, record: &str) -> Result<String, ActionError> {
        let id: RecordId = parse_id(record, "record")?;
        let read = self
            .submit(
                &format!("v1/records/{record}/read"),
                Action::ReadRecord(ReadRecord { record: id }),
            )
            .await?;
        let patient: ActorId = parse_id(
            read["record"]["patient"].as_str().unwrap_or(""),
            "record patient",
        )?;
        let wrapped = WrappedKey {
            enc: b64(&read["key"]["enc"], "key.enc")?,
            ciphertext: b64(&read["key"]["ciphertext"], "key.ciphertext")?,
        };
        let key = wrapped
            .unwrap(&self.keys.hpke, &patient, &id)
            .map_err(|e| ActionError::Crypto(format!("data key: {e}")))?;
        let sealed = SealedPayload {
            nonce: b64(&read["record"]["nonce"], "record.nonce")?,
            ciphertext: b64(&read["record"]["payload"], "record.payload")?,
        };
        let plain = envelope::open(&sealed, &key, &patient, &id)
            .map_err(|e| ActionError::Crypto(format!("payload: {e}")))?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| ActionError::Crypto("payload: expected UTF-8 JSON".into()))
    }

    /// The records of `patient` this doctor's grants cover (metadata; read one to decrypt it).
    pub async fn patient_records(&self, patient: &str) -> Result<Vec<Value>, ActionError> {
        let _: ActorId = parse_id(patient, "patient")?;
        Ok(self
            .relay
            .list_all(&format!("v1/patients/{patient}/records"))
            .await?)
    }
}
