//! Opening a record: unwrap its data key with the reader's HPKE key, then
//! decrypt the payload, both bound to the record's patient and id.

use super::ProtocolError;
use crate::envelope::{self, HpkeSecretKey, SealedPayload, WrappedKey};
use crate::ids::{ActorId, RecordId};

/// Decrypts the FHIR payload of `record` (of `patient`) with the data key
/// `wrapped` for the holder of `reader`.
pub fn open_record(
    reader: &HpkeSecretKey,
    patient: &ActorId,
    record: &RecordId,
    sealed: &SealedPayload,
    wrapped: &WrappedKey,
) -> Result<String, ProtocolError> {
    let envelope = |source| ProtocolError::Envelope {
        record: *record,
        source,
    };
    let key = wrapped.unwrap(reader, patient, record).map_err(envelope)?;
    let plain = envelope::open(sealed, &key, patient, record).map_err(envelope)?;
    String::from_utf8(plain.to_vec()).map_err(|_| ProtocolError::NotUtf8 { record: *record })
}

/// [`open_record`] for the patient themself: also checks that the record names them.
pub fn open_own_record(
    reader: &HpkeSecretKey,
    me: &ActorId,
    patient: &ActorId,
    record: &RecordId,
    sealed: &SealedPayload,
    wrapped: &WrappedKey,
) -> Result<String, ProtocolError> {
    if patient != me {
        return Err(ProtocolError::WrongPatient {
            record: *record,
            expected: me.clone(),
            found: patient.clone(),
        });
    }
    open_record(reader, patient, record, sealed, wrapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::EnvelopeError;
    use crate::protocol::testkeys::{patient, rng};

    #[test]
    fn a_sealed_record_opens_for_each_reader_and_not_for_others() {
        let (p, doctor, stranger) = (patient(1), patient(2), patient(3));
        let me = p.signing.actor_id();
        let id = RecordId::random(&mut rng(4));
        let readers = [&p.hpke.public_key(), &doctor.hpke.public_key()];
        let (sealed, keys) =
            envelope::seal_record(b"{\"a\":1}", &me, &id, &readers, &mut rng(5)).unwrap();
        for (holder, key) in [&p.hpke, &doctor.hpke].into_iter().zip(&keys) {
            assert_eq!(
                open_record(holder, &me, &id, &sealed, key).unwrap(),
                "{\"a\":1}"
            );
        }
        let refused = open_record(&stranger.hpke, &me, &id, &sealed, &keys[0]);
        assert!(matches!(
            refused,
            Err(ProtocolError::Envelope { record, source: EnvelopeError::Unwrap }) if record == id
        ));
        let other = RecordId::random(&mut rng(6));
        assert!(open_record(&p.hpke, &me, &other, &sealed, &keys[0]).is_err());
    }

    #[test]
    fn a_patient_refuses_a_record_naming_someone_else() {
        let (p, q) = (patient(1), patient(2));
        let (me, them) = (p.signing.actor_id(), q.signing.actor_id());
        let id = RecordId::random(&mut rng(4));
        let (sealed, keys) =
            envelope::seal_record(b"x", &them, &id, &[&p.hpke.public_key()], &mut rng(5)).unwrap();
        assert!(matches!(
            open_own_record(&p.hpke, &me, &them, &id, &sealed, &keys[0]),
            Err(ProtocolError::WrongPatient { .. })
        ));
    }
}
