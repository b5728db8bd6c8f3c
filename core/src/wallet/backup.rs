//! Portable backups: the whole wallet (keys and log) under a passphrase, in a
//! container with its own magic (`CCBACKUP`) so a backup is never mistaken for
//! the at-rest file, and with stronger argon2id parameters
//! ([`KdfParams::BACKUP`]) because backups leave the phone.

use rand_core::CryptoRngCore;

use super::seal::{Container, KdfParams, Lock, Unlock};
use super::{Wallet, WalletError};

impl Wallet {
    /// Exports an encrypted, portable backup under `passphrase` ([`KdfParams::BACKUP`]).
    pub fn export_backup(
        &self,
        passphrase: &str,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, WalletError> {
        self.export_backup_with_params(passphrase, KdfParams::BACKUP, rng)
    }

    /// Like [`Wallet::export_backup`] with explicit argon2 parameters; for tests.
    #[doc(hidden)]
    pub fn export_backup_with_params(
        &self,
        passphrase: &str,
        params: KdfParams,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, WalletError> {
        self.seal_into(Container::Backup, Lock::Passphrase(passphrase, params), rng)
    }

    /// Restores a wallet from a backup made by [`Wallet::export_backup`].
    pub fn import_backup(bytes: &[u8], passphrase: &str) -> Result<Self, WalletError> {
        Self::open_from(Container::Backup, Unlock::Passphrase(passphrase), bytes)
    }
}
