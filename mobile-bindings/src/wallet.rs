//! The patient's wallet across the FFI: a newtype over
//! [`carechain_core::wallet::Wallet`] behind a mutex (signing appends to its
//! log), plus the two foreign traits the app implements: a key-generation
//! progress listener and the platform keystore.

use std::sync::{Arc, Mutex, MutexGuard};

use carechain_client::SharedWallet;

use carechain_core::OsRng;
use carechain_core::paillier::DEFAULT_MODULUS_BITS;
use carechain_core::wallet::Wallet as CoreWallet;
use zeroize::Zeroizing;

use crate::error::MobileError;
use crate::runtime;
use crate::types::{KeygenProgress, SignedStatement};

/// Length of the wallet key kept in the platform keystore.
const WALLET_KEY_LEN: usize = 32;

/// Receives Paillier key-generation progress; called from a background thread.
#[uniffi::export(with_foreign)]
pub trait KeygenProgressListener: Send + Sync {
    /// Another prime candidate was tested.
    fn on_progress(&self, progress: KeygenProgress);
}

/// The platform keystore (Android Keystore / StrongBox, iOS Keychain / Secure
/// Enclave), implemented by the app. It holds the 32-byte key the wallet file
/// is sealed with; the library generates that key and never logs it.
#[uniffi::export(with_foreign)]
pub trait PlatformKeystore: Send + Sync {
    /// The stored wallet key, or `None` if none was stored yet.
    fn load_wallet_key(&self) -> Result<Option<Vec<u8>>, MobileError>;
    /// Stores a new wallet key (replacing none: called only when `load` returned `None`).
    fn store_wallet_key(&self, key: Vec<u8>) -> Result<(), MobileError>;
}

/// The patient's keys and signed-statement log. Seal it after every change
/// (`seal_with_keystore` or `seal_with_passphrase`) and store the bytes.
#[derive(uniffi::Object)]
pub struct Wallet(pub(crate) SharedWallet);

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wallet(<redacted>)")
    }
}

/// Creates a wallet with fresh keys, generated on this phone. The Paillier
/// key (3072 bits) is generated on a background thread; `progress` is called
/// from that thread after each prime candidate.
#[uniffi::export]
pub async fn create_wallet(
    progress: Arc<dyn KeygenProgressListener>,
) -> Result<Arc<Wallet>, MobileError> {
    runtime::blocking(move || {
        let mut report = |p: carechain_core::paillier::KeygenProgress| {
            progress.on_progress(KeygenProgress {
                candidates_tested: p.candidates_tested,
                primes_found: p.primes_found,
            })
        };
        let wallet = CoreWallet::create(DEFAULT_MODULUS_BITS, &mut OsRng, &mut report)?;
        Ok(Arc::new(Wallet(Arc::new(Mutex::new(wallet)))))
    })
    .await
}

/// Reads the wallet key from the keystore, checking its length.
fn load_key(keystore: &dyn PlatformKeystore) -> Result<Option<Zeroizing<[u8; 32]>>, MobileError> {
    let Some(bytes) = keystore.load_wallet_key()? else {
        return Ok(None);
    };
    let bytes = Zeroizing::new(bytes);
    let key: [u8; WALLET_KEY_LEN] =
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| MobileError::Keystore {
                reason: format!(
                    "expected a {WALLET_KEY_LEN}-byte wallet key, found {} bytes",
                    bytes.len()
                ),
            })?;
    Ok(Some(Zeroizing::new(key)))
}

#[uniffi::export]
impl Wallet {
    /// Opens a wallet file sealed with a passphrase (argon2id; call off the UI thread).
    #[uniffi::constructor]
    pub fn unlock_with_passphrase(
        sealed: Vec<u8>,
        passphrase: String,
    ) -> Result<Arc<Self>, MobileError> {
        let passphrase = Zeroizing::new(passphrase);
        let wallet = CoreWallet::open_with_passphrase(&sealed, &passphrase)?;
        Ok(Arc::new(Wallet(Arc::new(Mutex::new(wallet)))))
    }

    /// Opens a wallet file sealed with the key held by the platform keystore.
    #[uniffi::constructor]
    pub fn unlock_with_keystore(
        sealed: Vec<u8>,
        keystore: Arc<dyn PlatformKeystore>,
    ) -> Result<Arc<Self>, MobileError> {
        let key = load_key(keystore.as_ref())?.ok_or_else(|| MobileError::Keystore {
            reason: "expected a stored wallet key, found none".into(),
        })?;
        let wallet = CoreWallet::open_with_key(&sealed, &key)?;
        Ok(Arc::new(Wallet(Arc::new(Mutex::new(wallet)))))
    }

    /// Restores a wallet from a backup made by `export_backup` (argon2id; call off the UI thread).
    #[uniffi::constructor]
    pub fn import_backup(backup: Vec<u8>, passphrase: String) -> Result<Arc<Self>, MobileError> {
        let passphrase = Zeroizing::new(passphrase);
        let wallet = CoreWallet::import_backup(&backup, &passphrase)?;
        Ok(Arc::new(Wallet(Arc::new(Mutex::new(wallet)))))
    }

    /// The patient's actor id (derived from the signing key).
    pub fn actor_id(&self) -> Result<String, MobileError> {
        Ok(self.lock()?.actor_id().to_string())
    }

    /// The Paillier public key (modulus n, big-endian): public, for out-of-band sharing.
    pub fn paillier_public_key(&self) -> Result<Vec<u8>, MobileError> {
        Ok(self.lock()?.paillier_key().public_key().to_bytes())
    }

    /// Seals the wallet for storage under `passphrase` (NFKC-normalised, at least
    /// 12 characters, else `InvalidInput`; argon2id: call off the UI thread).
    pub fn seal_with_passphrase(&self, passphrase: String) -> Result<Vec<u8>, MobileError> {
        let passphrase = Zeroizing::new(passphrase);
        Ok(self.lock()?.seal_with_passphrase(&passphrase, &mut OsRng)?)
    }

    /// Seals the wallet for storage under the keystore's key, creating and
    /// storing a random key first if the keystore has none.
    pub fn seal_with_keystore(
        &self,
        keystore: Arc<dyn PlatformKeystore>,
    ) -> Result<Vec<u8>, MobileError> {
        let key = match load_key(keystore.as_ref())? {
            Some(key) => key,
            None => {
                let mut key = Zeroizing::new([0u8; WALLET_KEY_LEN]);
                rand_core::RngCore::fill_bytes(&mut OsRng, key.as_mut_slice());
                keystore.store_wallet_key(key.to_vec())?;
                key
            }
        };
        Ok(self.lock()?.seal_with_key(&key, &mut OsRng)?)
    }

    /// An encrypted, portable backup of the whole wallet under `passphrase`
    /// (NFKC-normalised, at least 12 characters, else `InvalidInput`).
    pub fn export_backup(&self, passphrase: String) -> Result<Vec<u8>, MobileError> {
        let passphrase = Zeroizing::new(passphrase);
        Ok(self.lock()?.export_backup(&passphrase, &mut OsRng)?)
    }

    /// Every statement this wallet signed, oldest first.
    pub fn statement_log(&self) -> Result<Vec<SignedStatement>, MobileError> {
        Ok(self
            .lock()?
            .log()
            .iter()
            .map(|e| SignedStatement {
                kind: e.kind.clone(),
                jti: e.jti.clone(),
                issued_at: e.iat,
                token: e.token.clone(),
            })
            .collect())
    }
}

impl Wallet {
    /// The core wallet, locked.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, CoreWallet>, MobileError> {
        self.0.lock().map_err(|_| MobileError::Internal {
            reason: "the wallet lock was poisoned by an earlier panic".into(),
        })
    }
}
