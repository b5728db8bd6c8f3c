//! How every secret file (a staff keystore, the CLI's login session, the
//! relay's generated secrets) is written: owner-only, synced before it is
//! trusted. One implementation for the relay and the CLI (whose tests check
//! the files' mode: `api/tests/relay/cli.rs`, `cli/tests/`).

use std::io::Write as _;
use std::path::Path;

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
