//! Composing an identity registration: the public keys an actor publishes on
//! the ledger (its signing and HPKE keys, and for a patient the Paillier key
//! with its proof of correctness). The private keys never leave the caller.

use crate::envelope::HpkeSecretKey;
use crate::identity::SigningKey;
use crate::ids::B64;
use crate::paillier::SecretKey;
use crate::statement::{PaillierRegistration, RegisterIdentity, Role};

/// The registration of an actor holding `signing` and `hpke`, in `role`;
/// `paillier` is required for a patient and absent for everyone else.
pub fn registration(
    role: Role,
    signing: &SigningKey,
    hpke: &HpkeSecretKey,
    display_name: &str,
    paillier: Option<PaillierRegistration>,
) -> RegisterIdentity {
    RegisterIdentity {
        role,
        signing_key: signing.verifying_key(),
        hpke_key: B64(hpke.public_key().to_bytes()),
        display_name: display_name.to_owned(),
        paillier,
    }
}

/// `key`'s public modulus with a fresh proof that `gcd(n, φ(n)) = 1` (the
/// proof costs tens of milliseconds at 3072 bits; callers that register many
/// patients under one key may keep it).
pub fn paillier_registration(key: &SecretKey) -> PaillierRegistration {
    PaillierRegistration {
        public_key: B64(key.public_key().to_bytes()),
        key_proof: B64(key.prove_key_correct().to_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paillier::{KeyProof, PublicKey};
    use crate::protocol::testkeys::{paillier, patient};

    #[test]
    fn a_patient_registration_publishes_its_keys_and_a_proof_that_verifies() {
        let p = patient(7);
        let reg = registration(
            Role::Patient,
            &p.signing,
            &p.hpke,
            "",
            Some(paillier_registration(paillier())),
        );
        assert_eq!(reg.signing_key, p.signing.verifying_key());
        assert_eq!(reg.hpke_key.as_bytes(), p.hpke.public_key().to_bytes());
        let published = reg.paillier.unwrap();
        let pk = PublicKey::from_bytes(published.public_key.as_bytes()).unwrap();
        assert_eq!(pk.to_bytes(), paillier().public_key().to_bytes());
        let proof = KeyProof::from_bytes(published.key_proof.as_bytes()).unwrap();
        pk.verify_key_proof(&proof).unwrap();
    }
}
