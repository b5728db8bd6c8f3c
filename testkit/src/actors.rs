//! Actors: someone with a signing key, an HPKE key, for a patient a Paillier
//! key, and a role. Keys come from the world's seeded RNG, so a world makes
//! the same actors on every run and every backend.

use std::sync::Arc;

use carechain_core::envelope::HpkeSecretKey;
use carechain_core::identity::SigningKey;
use carechain_core::ids::ActorId;
use carechain_core::paillier::{self, SecretKey};
use carechain_core::protocol::register::registration;
use carechain_core::statement::{RegisterIdentity, Role};
use rand_core::CryptoRngCore;

use crate::keys;

/// Someone with keys.
pub struct Actor {
    /// The statement-signing key; its hash is the actor id.
    pub key: SigningKey,
    /// The key records' data keys are wrapped for.
    pub hpke: HpkeSecretKey,
    /// A patient's Paillier key (diagnoses and policy items are encrypted under it).
    pub paillier: Option<Arc<SecretKey>>,
    /// The role it registers with.
    pub role: Role,
}

impl Actor {
    /// An actor of `role` with fresh keys from `rng`.
    pub fn generate(
        role: Role,
        paillier: Option<Arc<SecretKey>>,
        rng: &mut impl CryptoRngCore,
    ) -> Self {
        Self {
            key: SigningKey::generate(rng),
            hpke: HpkeSecretKey::generate(rng),
            paillier,
            role,
        }
    }

    /// Its actor id.
    pub fn id(&self) -> ActorId {
        self.key.actor_id()
    }

    /// Its identity registration (with the Paillier key's proof for a patient).
    pub fn registration(&self) -> RegisterIdentity {
        let paillier = self.paillier.as_ref().map(keys::registration);
        let name = format!("{:?}", self.role);
        registration(self.role, &self.key, &self.hpke, &name, paillier)
    }

    /// A copy of its signing key.
    pub fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(self.key.to_bytes().as_slice()).expect("a signing key round-trips")
    }

    /// A patient's Paillier secret key.
    pub fn paillier_secret(&self) -> &SecretKey {
        self.paillier.as_deref().expect("a patient")
    }

    /// A patient's Paillier public key.
    pub fn paillier_public(&self) -> &paillier::PublicKey {
        self.paillier_secret().public_key()
    }
}
