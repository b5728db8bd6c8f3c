//! The patient wallet: the patient's keys and the log of every statement they
//! signed, sealed at rest.
//!
//! A [`Wallet`] holds three secret keys — the P-256 signing key (the patient's
//! identity), the HPKE key records are wrapped for, and the Paillier key of the
//! claim protocol — plus an append-only [`LogEntry`] log. It is persisted in
//! one of two sealed forms (the byte layout is documented in `seal.rs`):
//!
//! - **at rest** ([`Wallet::seal_with_key`] / [`Wallet::seal_with_passphrase`]):
//!   the file on the phone, locked either with a 32-byte key kept in the
//!   platform keystore (the usual case) or with an argon2id-stretched
//!   passphrase ([`KdfParams::AT_REST`]);
//! - **backup** ([`Wallet::export_backup`]): a portable copy under a distinct
//!   magic, always passphrase-locked with stronger parameters
//!   ([`KdfParams::BACKUP`]).
//!
//! Passphrases are NFKC-normalised, new ones need [`MIN_PASSPHRASE_CHARS`]
//! characters, and files sealed before normalisation still open (see
//! `passphrase.rs`); argon2 costs read from a file are capped
//! ([`KdfParams::LIMIT`]).
//!
//! Both use XChaCha20-Poly1305 with the whole header as associated data. The
//! plaintext (see `contents.rs`) is a versioned binary encoding held only in
//! zeroizing buffers.

mod backup;
mod contents;
mod file;
mod log;
mod passphrase;
mod seal;
mod staff;

use std::fmt;

use rand_core::CryptoRngCore;

pub use self::file::{restrict_database, write_private};
pub use self::log::LogEntry;
pub use self::passphrase::MIN_PASSPHRASE_CHARS;
use self::seal::{Container, Lock, Unlock};
pub use self::seal::{KdfParams, MAX_M_KIB, MAX_P, MAX_T};
pub use self::staff::{KeystoreError, StaffKeys};
use crate::envelope::HpkeSecretKey;
use crate::identity::SigningKey;
use crate::ids::ActorId;
use crate::paillier::{self, KeygenProgress, PaillierError};
use crate::statement::{Action, Statement, StatementError};

/// Why a wallet could not be created, used, sealed or opened. No variant ever carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The passphrase or key does not open this file, or the file was tampered with.
    #[error("wrong passphrase or key, or the wallet file was modified")]
    WrongPassphraseOrKey,
    /// An empty passphrase was given.
    #[error("the passphrase must not be empty")]
    EmptyPassphrase,
    /// The bytes do not start with a CareChain wallet or backup magic.
    #[error("not a CareChain wallet file or backup")]
    NotAWallet,
    /// The file is a different kind of sealed wallet than expected.
    #[error("expected {expected}, found {found}")]
    WrongKind {
        /// What the caller tried to open.
        expected: &'static str,
        /// What the file is.
        found: &'static str,
    },
    /// The file or its contents use a format version this build does not read.
    #[error("{what}: expected format version {expected}, found {found}")]
    UnsupportedVersion {
        /// Which layer carries the version.
        what: &'static str,
        /// The version this build reads.
        expected: u32,
        /// The version in the file.
        found: u32,
    },
    /// The file is truncated or malformed.
    #[error("corrupted wallet: {reason}")]
    Corrupted {
        /// What is wrong (never includes secret bytes).
        reason: String,
    },
    /// A new passphrase is shorter than [`MIN_PASSPHRASE_CHARS`] (after NFKC normalisation).
    #[error("the passphrase must have at least {min_chars} characters, found {found_chars}")]
    WeakPassphrase {
        /// The minimum.
        min_chars: usize,
        /// The passphrase's length in characters.
        found_chars: usize,
    },
    /// The argon2 cost in a header exceeds [`KdfParams::LIMIT`]; refused before any work.
    #[error(
        "the file demands argon2id m={} KiB, t={}, p={}; at most m={} KiB, t={}, p={} is accepted",
        .found.m_kib, .found.t, .found.p, .max.m_kib, .max.t, .max.p
    )]
    KdfTooCostly {
        /// The parameters in the header.
        found: KdfParams,
        /// The largest accepted.
        max: KdfParams,
    },
    /// The argon2 parameters in a header are invalid (argon2 refuses them).
    #[error("unsupported key-derivation parameters: {reason}")]
    KdfParams {
        /// Which parameter is out of range.
        reason: String,
    },
    /// Generating the Paillier key failed.
    #[error("could not generate the Paillier key: {0}")]
    Keygen(#[from] PaillierError),
    /// Building or signing a statement failed.
    #[error("could not sign the statement: {0}")]
    Statement(#[from] StatementError),
}

/// The patient's keys and signed-statement log. No `Clone`; `Debug` shows the actor id only.
pub struct Wallet {
    actor: ActorId,
    signing: SigningKey,
    hpke: HpkeSecretKey,
    paillier: paillier::SecretKey,
    log: Vec<LogEntry>,
}

impl Wallet {
    /// Generates fresh signing, HPKE and Paillier (`paillier_bits`) keys with an empty log.
    pub fn create(
        paillier_bits: usize,
        rng: &mut impl CryptoRngCore,
        progress: &mut dyn FnMut(KeygenProgress),
    ) -> Result<Self, WalletError> {
        let signing = SigningKey::generate(rng);
        let hpke = HpkeSecretKey::generate(rng);
        let paillier = paillier::SecretKey::generate_with_progress(paillier_bits, rng, progress)?;
        Ok(Wallet {
            actor: signing.actor_id(),
            signing,
            hpke,
            paillier,
            log: Vec::new(),
        })
    }

    /// The patient's actor id (derived from the signing key).
    pub fn actor_id(&self) -> ActorId {
        self.actor.clone()
    }

    /// The P-256 signing key (the patient's identity).
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The HPKE key that record data keys are wrapped for.
    pub fn hpke_key(&self) -> &HpkeSecretKey {
        &self.hpke
    }

    /// The Paillier key of the claim protocol.
    pub fn paillier_key(&self) -> &paillier::SecretKey {
        &self.paillier
    }

    /// Builds and signs a statement for `action`, appends it to the log, and returns the compact JWS.
    pub fn sign(
        &mut self,
        aud: &str,
        action: Action,
        now: i64,
        ttl_secs: i64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<String, WalletError> {
        let statement = Statement::new(self.actor.clone(), aud, action, now, ttl_secs, rng);
        let token = statement.sign(&self.signing)?;
        self.log.push(LogEntry {
            token: token.clone(),
            kind: statement.act.kind().to_owned(),
            jti: statement.jti,
            iat: statement.iat,
        });
        Ok(token)
    }

    /// Every statement this wallet signed, oldest first.
    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }

    /// Seals for storage on the phone under a passphrase ([`KdfParams::AT_REST`]).
    pub fn seal_with_passphrase(
        &self,
        passphrase: &str,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, WalletError> {
        self.seal_with_passphrase_and_params(passphrase, KdfParams::AT_REST, rng)
    }

    /// Like [`Wallet::seal_with_passphrase`] with explicit argon2 parameters; for tests.
    #[doc(hidden)]
    pub fn seal_with_passphrase_and_params(
        &self,
        passphrase: &str,
        params: KdfParams,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, WalletError> {
        self.seal_into(Container::AtRest, Lock::Passphrase(passphrase, params), rng)
    }

    /// Opens a wallet file sealed with [`Wallet::seal_with_passphrase`].
    pub fn open_with_passphrase(bytes: &[u8], passphrase: &str) -> Result<Self, WalletError> {
        Self::open_from(Container::AtRest, Unlock::Passphrase(passphrase), bytes)
    }

    /// Seals for storage on the phone under a 32-byte key from the platform keystore.
    pub fn seal_with_key(
        &self,
        key: &[u8; 32],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, WalletError> {
        self.seal_into(Container::AtRest, Lock::Key(key), rng)
    }

    /// Opens a wallet file sealed with [`Wallet::seal_with_key`].
    pub fn open_with_key(bytes: &[u8], key: &[u8; 32]) -> Result<Self, WalletError> {
        Self::open_from(Container::AtRest, Unlock::Key(key), bytes)
    }

    /// Encodes the wallet and seals it into `container` under `lock`.
    fn seal_into(
        &self,
        container: Container,
        lock: Lock<'_>,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, WalletError> {
        let contents = contents::encode(self)?;
        seal::seal(container, lock, &contents, rng)
    }

    /// Opens `bytes` as a `container` with `unlock` and decodes the wallet inside.
    fn open_from(
        container: Container,
        unlock: Unlock<'_>,
        bytes: &[u8],
    ) -> Result<Self, WalletError> {
        let contents = seal::open(container, unlock, bytes)?;
        contents::decode(&contents)
    }
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wallet")
            .field("actor_id", &self.actor)
            .finish_non_exhaustive()
    }
}
