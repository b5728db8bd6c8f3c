//! Re-wrapping data keys for a grant: a read grant carries the data key of
//! every record in its scope, unwrapped with the patient's HPKE key and
//! wrapped again for the grantee (the contract refuses a grant missing one).

use rand_core::CryptoRngCore;

use super::ProtocolError;
use crate::envelope::{HpkePublicKey, HpkeSecretKey, WrappedKey};
use crate::ids::{ActorId, RecordId};
use crate::statement::RecordKey;

/// Each `(record, key wrapped for the patient)` re-wrapped for `grantee`.
pub fn rewrap_keys(
    patient_key: &HpkeSecretKey,
    patient: &ActorId,
    grantee: &HpkePublicKey,
    keys: impl IntoIterator<Item = (RecordId, WrappedKey)>,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<RecordKey>, ProtocolError> {
    keys.into_iter()
        .map(|(record, wrapped)| {
            let again = wrapped
                .rewrap_for(patient_key, grantee, patient, &record, rng)
                .map_err(|source| ProtocolError::Envelope { record, source })?;
            Ok(RecordKey {
                record,
                enc: again.enc,
                ciphertext: again.ciphertext,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope;
    use crate::envelope::SealedPayload;
    use crate::protocol::record::open_record;
    use crate::protocol::testkeys::{patient, rng};

    /// A fresh record `"x"` of patient `me`, sealed for `reader` alone.
    fn seal_x(me: &ActorId, reader: &HpkePublicKey) -> (RecordId, SealedPayload, Vec<WrappedKey>) {
        let id = RecordId::random(&mut rng(3));
        let (sealed, keys) = envelope::seal_record(b"x", me, &id, &[reader], &mut rng(4)).unwrap();
        (id, sealed, keys)
    }

    #[test]
    fn a_rewrapped_key_opens_the_record_for_the_grantee() {
        let (p, doctor) = (patient(1), patient(2));
        let me = p.signing.actor_id();
        let (id, sealed, keys) = seal_x(&me, &p.hpke.public_key());
        let rewrapped = rewrap_keys(
            &p.hpke,
            &me,
            &doctor.hpke.public_key(),
            [(id, keys[0].clone())],
            &mut rng(5),
        )
        .unwrap();
        let k = &rewrapped[0];
        assert_eq!(k.record, id);
        let wrapped = WrappedKey {
            enc: k.enc.clone(),
            ciphertext: k.ciphertext.clone(),
        };
        assert_eq!(
            open_record(&doctor.hpke, &me, &id, &sealed, &wrapped).unwrap(),
            "x"
        );
    }

    #[test]
    fn a_key_not_wrapped_for_the_patient_is_refused() {
        let (p, doctor) = (patient(1), patient(2));
        let me = p.signing.actor_id();
        let (id, _, keys) = seal_x(&me, &doctor.hpke.public_key());
        let grantee = doctor.hpke.public_key();
        let err = rewrap_keys(&p.hpke, &me, &grantee, [(id, keys[0].clone())], &mut rng(5));
        assert!(matches!(err, Err(ProtocolError::Envelope { record, .. }) if record == id));
    }
}
