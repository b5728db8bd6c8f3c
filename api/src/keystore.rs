//! The admin's keystore, in the staff keystore format of
//! `carechain_core::wallet` (argon2id + XChaCha20-Poly1305, `CCADMKS1`), and
//! [`write_private`], how every secret file of the relay and the CLI is
//! written: owner-only, synced before it is trusted.

use std::io::Write as _;
use std::path::Path;

/// The admin's secret keys: the core staff keystore.
pub use carechain_core::wallet::{KeystoreError, StaffKeys as AdminKeys};

/// Writes `bytes` to `path`, readable by its owner only (mode 0600 on Unix)
/// and synced to disk; refuses an existing file unless `replace`.
pub fn write_private(path: &Path, bytes: &[u8], replace: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
