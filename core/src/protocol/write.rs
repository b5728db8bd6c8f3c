//! Composing a record write: the FHIR payload sealed under a fresh data key,
//! that key wrapped for each reader (the patient and every doctor with a read
//! grant in force), and the diagnosis code and its category encrypted under
//! the patient's Paillier key (`E(code)`, `E(category)`), with the
//! treatment facts (date of service, billed amount) the doctor signs.

use rand_core::CryptoRngCore;

use super::{ProtocolError, paillier};
use crate::envelope::{self, HpkePublicKey};
use crate::icd10::Icd10Code;
use crate::ids::{ActorId, B64, RecordId};
use crate::statement::{ReaderKey, RecordCategory, Treatment, WriteRecord};

/// What a doctor writes; [`RecordWrite::compose`] turns it into the signed action's body.
#[derive(Debug)]
pub struct RecordWrite<'a> {
    /// A fresh record id.
    pub record: RecordId,
    /// Whose record.
    pub patient: &'a ActorId,
    /// The record's category.
    pub category: RecordCategory,
    /// The FHIR JSON payload.
    pub payload: &'a [u8],
    /// The diagnosis `E(code)` and `E(category)` encrypt.
    pub code: &'a Icd10Code,
    /// The patient's Paillier public key (as the ledger publishes it).
    pub paillier_key: &'a crate::paillier::PublicKey,
    /// Who may read it: actor and published HPKE key, the patient included.
    pub readers: &'a [(ActorId, B64)],
    /// The encounter's date of service and billed amount (required by ledgers
    /// from storage rules 3, ignored by older ones).
    pub treatment: Treatment,
}

/// A record's diagnosis under the patient's Paillier key: `E(code)` and
/// `E(category)`, as a `write_record` statement carries them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedDiagnosis {
    /// `E(code)`.
    pub code: B64,
    /// `E(category)`.
    pub category: B64,
}

impl EncryptedDiagnosis {
    /// Encrypts `code` and its category under `key` with fresh randomness.
    pub fn encrypt(
        code: &Icd10Code,
        key: &crate::paillier::PublicKey,
        rng: &mut impl CryptoRngCore,
    ) -> Self {
        EncryptedDiagnosis {
            code: B64(key.encrypt(code.encode(), rng).to_bytes()),
            category: B64(key.encrypt(code.category().encode(), rng).to_bytes()),
        }
    }
}

impl RecordWrite<'_> {
    /// Seals, wraps and encrypts: the body of a `write_record` statement.
    pub fn compose(self, rng: &mut impl CryptoRngCore) -> Result<WriteRecord, ProtocolError> {
        let mut write = self.seal(rng)?;
        let diagnosis = EncryptedDiagnosis::encrypt(self.code, self.paillier_key, rng);
        (write.code, write.code_category) = (diagnosis.code, diagnosis.category);
        Ok(write)
    }

    /// As [`RecordWrite::compose`], with the diagnosis encrypted beforehand:
    /// a load generator reuses ciphertexts, since Paillier encryption would
    /// dominate its set-up. The caller vouches that `diagnosis` encrypts
    /// `self.code` under `self.paillier_key`.
    pub fn compose_with(
        self,
        diagnosis: EncryptedDiagnosis,
        rng: &mut impl CryptoRngCore,
    ) -> Result<WriteRecord, ProtocolError> {
        let mut write = self.seal(rng)?;
        (write.code, write.code_category) = (diagnosis.code, diagnosis.category);
        Ok(write)
    }

    /// The sealed payload and the wrapped keys; the diagnosis left empty.
    fn seal(&self, rng: &mut impl CryptoRngCore) -> Result<WriteRecord, ProtocolError> {
        let readers = self
            .readers
            .iter()
            .map(|(actor, key)| reader_key(actor, key))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&HpkePublicKey> = readers.iter().collect();
        let (sealed, wrapped) =
            envelope::seal_record(self.payload, self.patient, &self.record, &refs, rng).map_err(
                |source| ProtocolError::Envelope {
                    record: self.record,
                    source,
                },
            )?;
        let keys = self
            .readers
            .iter()
            .zip(wrapped)
            .map(|((reader, _), w)| ReaderKey {
                reader: reader.clone(),
                enc: w.enc,
                ciphertext: w.ciphertext,
            })
            .collect();
        Ok(WriteRecord {
            record: self.record,
            patient: self.patient.clone(),
            category: self.category,
            nonce: sealed.nonce,
            payload: sealed.ciphertext,
            keys,
            code: B64(Vec::new()),
            code_category: B64(Vec::new()),
            treatment: Some(self.treatment.clone()),
        })
    }
}

/// Parses a reader's published HPKE key.
pub fn reader_key(reader: &ActorId, key: &B64) -> Result<HpkePublicKey, ProtocolError> {
    HpkePublicKey::from_bytes(key.as_bytes()).map_err(|source| ProtocolError::ReaderKey {
        reader: reader.clone(),
        source,
    })
}

/// Parses a patient's published Paillier key.
pub fn paillier_key(key: &B64) -> Result<crate::paillier::PublicKey, ProtocolError> {
    crate::paillier::PublicKey::from_bytes(key.as_bytes()).map_err(paillier("Paillier key"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{SealedPayload, WrappedKey};
    use crate::protocol::record::open_record;
    use crate::protocol::testkeys::{paillier as key, patient, rng};

    /// A visit on 2027-01-15 billed 120.00 EUR.
    fn visit() -> Treatment {
        Treatment {
            date_of_service: 1_800_000_000,
            billed: 12_000,
            currency: "EUR".into(),
        }
    }

    /// A general record of `"fhir"` for `patient` with `code`, for `readers`.
    fn compose(
        patient: &ActorId,
        code: &Icd10Code,
        readers: &[(ActorId, B64)],
    ) -> Result<WriteRecord, ProtocolError> {
        RecordWrite {
            record: RecordId::random(&mut rng(3)),
            patient,
            category: RecordCategory::General,
            payload: b"fhir",
            code,
            paillier_key: key().public_key(),
            readers,
            treatment: visit(),
        }
        .compose(&mut rng(4))
    }

    #[test]
    fn a_composed_write_opens_for_each_reader_and_encrypts_the_code() {
        let (p, doctor) = (patient(1), patient(2));
        let me = p.signing.actor_id();
        let readers = [
            (me.clone(), B64(p.hpke.public_key().to_bytes())),
            (
                doctor.signing.actor_id(),
                B64(doctor.hpke.public_key().to_bytes()),
            ),
        ];
        let code: Icd10Code = "E11.9".parse().unwrap();
        let write = compose(&me, &code, &readers).unwrap();
        assert_eq!(write.keys.len(), 2);
        assert_eq!(write.treatment, Some(visit()), "signed with the rest");
        let sealed = SealedPayload {
            nonce: write.nonce.clone(),
            ciphertext: write.payload.clone(),
        };
        for (holder, k) in [&p.hpke, &doctor.hpke].into_iter().zip(&write.keys) {
            let wrapped = WrappedKey {
                enc: k.enc.clone(),
                ciphertext: k.ciphertext.clone(),
            };
            let opened = open_record(holder, &me, &write.record, &sealed, &wrapped).unwrap();
            assert_eq!(opened, "fhir");
        }
        let decrypt = |b: &B64| {
            let pk = key().public_key();
            key()
                .decrypt(&pk.ciphertext_from_bytes(b.as_bytes()).unwrap())
                .unwrap()
        };
        assert_eq!(decrypt(&write.code), code.encode());
        assert_eq!(decrypt(&write.code_category), code.category().encode());
    }

    #[test]
    fn a_write_with_a_given_diagnosis_carries_it_and_still_seals_for_its_readers() {
        let p = patient(1);
        let me = p.signing.actor_id();
        let readers = [(me.clone(), B64(p.hpke.public_key().to_bytes()))];
        let code: Icd10Code = "I10".parse().unwrap();
        let diagnosis = EncryptedDiagnosis::encrypt(&code, key().public_key(), &mut rng(5));
        let write = RecordWrite {
            record: RecordId::random(&mut rng(3)),
            patient: &me,
            category: RecordCategory::General,
            payload: b"fhir",
            code: &code,
            paillier_key: key().public_key(),
            readers: &readers,
            treatment: visit(),
        }
        .compose_with(diagnosis.clone(), &mut rng(4))
        .unwrap();
        assert_eq!(
            (&write.code, &write.code_category),
            (&diagnosis.code, &diagnosis.category)
        );
        let sealed = SealedPayload {
            nonce: write.nonce.clone(),
            ciphertext: write.payload.clone(),
        };
        let wrapped = WrappedKey {
            enc: write.keys[0].enc.clone(),
            ciphertext: write.keys[0].ciphertext.clone(),
        };
        let opened = open_record(&p.hpke, &me, &write.record, &sealed, &wrapped).unwrap();
        assert_eq!(opened, "fhir");
    }

    #[test]
    fn a_malformed_reader_key_is_refused_with_the_reader() {
        let p = patient(1);
        let me = p.signing.actor_id();
        let readers = [(me.clone(), B64(vec![4; 10]))];
        let err = compose(&me, &"I10".parse().unwrap(), &readers).unwrap_err();
        assert!(matches!(err, ProtocolError::ReaderKey { reader, .. } if reader == me));
    }
}
