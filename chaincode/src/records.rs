//! Records: a doctor with a write grant in force writes one (ciphertext,
//! wrapped keys, Paillier-encrypted code and category, signed); a reader
//! other than the patient reads one through a transaction that logs the
//! access and returns the ciphertext with that reader's wrapped key.
//!
//! From storage rules 3 a write must carry the doctor-signed treatment facts
//! ([`Treatment`]): a date of service not after the write (within the
//! ledger's clock skew) nor more than the ledger's window
//! (`max_service_age_secs`, default a year) before it, a positive billed
//! amount and its currency. They are kept with the record: claims check the
//! policy term against the date of service and pay at most the billed amount
//! in total (see `insurance`). Under older rules the facts are optional and
//! ignored (not checked, not stored), so those chains replay unchanged.

use std::collections::BTreeSet;

use carechain_core::ids::{ActorId, B64};
use carechain_core::ledger::{Event, RecordEvent, RecordForReader, RecordWritten};
use carechain_core::paillier;
use carechain_core::statement::{
    AccessAction, MAX_SERVICE_AGE_SECS, ReadRecord, RecordCategory, Role, Treatment, WriteRecord,
};

use crate::consent::{current_readers, grant_in_force, load_patient};
use crate::contract::{Tx, Verified, respond};
use crate::error::ContractError;
use crate::model::{AccessLogEntry, Identity, LedgerConfig, RecordState, WrappedKeyState, keys};

/// XChaCha20-Poly1305 nonce length.
const NONCE_LEN: usize = 24;
/// Largest encrypted payload accepted (1 MiB).
const MAX_PAYLOAD_LEN: usize = 1 << 20;
/// A P-256 HPKE encapsulated key: an uncompressed SEC1 point.
const ENC_LEN: usize = 65;
/// An AES-256-GCM-wrapped 32-byte data key: key + tag.
const WRAPPED_KEY_LEN: usize = 32 + 16;

/// The storage rules from which a record write carries the treatment facts.
pub(crate) const TREATMENT_RULES: u32 = 3;
/// The shortest service window a ledger may set: a day.
const MIN_SERVICE_AGE_SECS: i64 = 86_400;

/// `config` with its service window settled at `init`: stored explicitly from
/// rules 3 (the default if absent, so a later default never changes an
/// existing ledger), refused under older rules, which have no such check.
pub(crate) fn settle_service_window(
    mut config: LedgerConfig,
) -> Result<LedgerConfig, ContractError> {
    if config.rules < TREATMENT_RULES {
        if config.max_service_age_secs.is_some() {
            return Err(ContractError::invalid(
                "max_service_age_secs",
                format!(
                    "expected no service window under rules {} (records carry treatment facts from rules {TREATMENT_RULES})",
                    config.rules
                ),
            ));
        }
        return Ok(config);
    }
    let window = config.service_window_secs();
    if !(MIN_SERVICE_AGE_SECS..=MAX_SERVICE_AGE_SECS).contains(&window) {
        return Err(ContractError::invalid(
            "max_service_age_secs",
            format!(
                "expected {MIN_SERVICE_AGE_SECS}..={MAX_SERVICE_AGE_SECS} seconds, found {window}"
            ),
        ));
    }
    config.max_service_age_secs = Some(window);
    Ok(config)
}

/// The treatment facts a write keeps: from rules 3 required and checked at
/// `now`, before ignored.
fn treatment_facts(
    config: &LedgerConfig,
    body: &WriteRecord,
    now: i64,
) -> Result<Option<Treatment>, ContractError> {
    if config.rules < TREATMENT_RULES {
        return Ok(None);
    }
    let facts = body
        .treatment
        .as_ref()
        .ok_or(ContractError::TreatmentMissing)?;
    facts.check(now, config.max_skew_secs, config.service_window_secs())?;
    Ok(Some(facts.clone()))
}

/// The treatment facts of a record written under rules ≥ 3, where every
/// write carries them (their absence is corrupt state).
pub(crate) fn treatment_of(record: &RecordState) -> Result<&Treatment, ContractError> {
    record
        .treatment
        .as_ref()
        .ok_or_else(|| ContractError::CorruptState {
            key: keys::record(record.record),
            reason: "a rules-3 record without treatment facts".into(),
        })
}

/// Checks the shape of a wrapped key (the contract cannot open it).
pub(crate) fn check_wrapped(field: &'static str, enc: &B64, ct: &B64) -> Result<(), ContractError> {
    if enc.as_bytes().len() != ENC_LEN || ct.as_bytes().len() != WRAPPED_KEY_LEN {
        return Err(ContractError::invalid(
            field,
            format!(
                "expected a {ENC_LEN}-byte encapsulated key and a {WRAPPED_KEY_LEN}-byte wrapped key, found {} and {}",
                enc.as_bytes().len(),
                ct.as_bytes().len()
            ),
        ));
    }
    Ok(())
}

/// Parses a Paillier ciphertext under the patient's key.
pub(crate) fn ciphertext(
    key: &paillier::PublicKey,
    field: &'static str,
    bytes: &B64,
) -> Result<paillier::Ciphertext, ContractError> {
    key.ciphertext_from_bytes(bytes.as_bytes())
        .map_err(|err| ContractError::invalid(field, err.to_string()))
}

/// The patient's Paillier public key.
pub(crate) fn paillier_key(patient: &Identity) -> Result<paillier::PublicKey, ContractError> {
    let registration = patient
        .paillier
        .as_ref()
        .ok_or_else(|| ContractError::CorruptState {
            key: keys::identity(&patient.actor),
            reason: "a patient without a Paillier key".into(),
        })?;
    paillier::PublicKey::from_bytes(registration.public_key.as_bytes()).map_err(|err| {
        ContractError::CorruptState {
            key: keys::identity(&patient.actor),
            reason: err.to_string(),
        }
    })
}

/// `write_record`: a doctor with a write grant in force writes a record.
pub(crate) fn write(
    tx: &mut Tx<'_>,
    config: &LedgerConfig,
    verified: &Verified,
    body: &WriteRecord,
    token: &str,
) -> Result<Vec<u8>, ContractError> {
    let doctor = verified
        .signer_as(Role::Doctor, "write records")?
        .actor
        .clone();
    let patient = load_patient(tx, &body.patient)?;
    if grant_in_force(
        tx,
        &body.patient,
        &doctor,
        AccessAction::Write,
        body.category,
    )?
    .is_none()
    {
        return Err(ContractError::Forbidden(format!(
            "doctor {doctor} holds no write grant in force for {:?} records of {}",
            body.category, body.patient
        )));
    }
    let key = keys::record(body.record);
    if tx.exists(&key)? {
        return Err(ContractError::exists("record", body.record));
    }
    if body.nonce.as_bytes().len() != NONCE_LEN {
        return Err(ContractError::invalid(
            "nonce",
            format!(
                "expected {NONCE_LEN} bytes, found {}",
                body.nonce.as_bytes().len()
            ),
        ));
    }
    if body.payload.as_bytes().len() < 16 || body.payload.as_bytes().len() > MAX_PAYLOAD_LEN {
        return Err(ContractError::invalid(
            "payload",
            format!(
                "expected 16 to {MAX_PAYLOAD_LEN} bytes of ciphertext, found {}",
                body.payload.as_bytes().len()
            ),
        ));
    }
    let now = tx.now();
    let treatment = treatment_facts(config, body, now)?;
    let paillier = paillier_key(&patient)?;
    ciphertext(&paillier, "code", &body.code)?;
    ciphertext(&paillier, "code_category", &body.code_category)?;

    // The data key must reach the patient and every reader in force for this category — no one else.
    let mut expected = current_readers(tx, &body.patient, body.category)?;
    expected.insert(body.patient.clone());
    let offered: BTreeSet<ActorId> = body.keys.iter().map(|k| k.reader.clone()).collect();
    if offered.len() != body.keys.len() || offered != expected {
        return Err(ContractError::invalid(
            "keys",
            format!(
                "expected one wrapped key for the patient and each of the {} current readers, found keys for {} distinct readers of {} entries",
                expected.len() - 1,
                offered.len(),
                body.keys.len()
            ),
        ));
    }
    for reader in &body.keys {
        check_wrapped("keys", &reader.enc, &reader.ciphertext)?;
        tx.put(
            &keys::record_key(body.record, &reader.reader),
            &WrappedKeyState {
                enc: reader.enc.clone(),
                ciphertext: reader.ciphertext.clone(),
            },
        )?;
    }
    let state = RecordState {
        record: body.record,
        patient: body.patient.clone(),
        doctor: doctor.clone(),
        category: body.category,
        nonce: body.nonce.clone(),
        payload: body.payload.clone(),
        code: body.code.clone(),
        code_category: body.code_category.clone(),
        written_at: now,
        statement: token.to_owned(),
        treatment,
    };
    tx.put(&key, &state)?;
    tx.index(&keys::patient_record(&body.patient, body.record))?;
    tx.emit(Event::RecordWritten(RecordEvent {
        record: body.record,
        patient: body.patient.clone(),
        actor: doctor,
    }))?;
    respond(&RecordWritten {
        record: body.record,
        written_at: now,
    })
}

/// `read_record`: a reader with a read grant in force reads a record; logged.
pub(crate) fn read(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &ReadRecord,
) -> Result<Vec<u8>, ContractError> {
    let reader = verified.signer_as(Role::Doctor, "read records through the ledger")?;
    let reader = reader.actor.clone();
    let record: RecordState = tx.load(&keys::record(body.record), "record", body.record)?;
    let category: RecordCategory = record.category;
    if grant_in_force(tx, &record.patient, &reader, AccessAction::Read, category)?.is_none() {
        return Err(ContractError::Forbidden(format!(
            "{reader} holds no read grant in force for record {}",
            body.record
        )));
    }
    let wrapped: WrappedKeyState = tx
        .get(&keys::record_key(body.record, &reader))?
        .ok_or_else(|| {
            ContractError::Conflict(format!(
                "no data key for {reader} on record {}: the grant did not carry it",
                body.record
            ))
        })?;
    let now = tx.now();
    let tx_id = tx.stub.tx_id().to_owned();
    tx.put(
        &keys::access(&record.patient, now, &tx_id),
        &AccessLogEntry {
            reader: reader.clone(),
            record: body.record,
            at: now,
            tx_id: tx_id.clone(),
        },
    )?;
    tx.emit(Event::RecordRead(RecordEvent {
        record: body.record,
        patient: record.patient.clone(),
        actor: reader,
    }))?;
    respond(&RecordForReader {
        record,
        key: wrapped,
    })
}
