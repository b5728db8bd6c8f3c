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

/// Makes the SQLite database `path` owner-only before SQLite opens it:
/// creates it empty with mode 0600 if absent, and takes group and other
/// permissions away from it and from its `-wal` and `-shm` companions if
/// they exist (files made before this rule). SQLite creates the companions
/// with the database file's mode, so they stay owner-only too.
pub fn restrict_database(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    drop(options.open(path)?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let name = path.as_os_str().to_owned();
        for suffix in ["", "-wal", "-shm"] {
            let mut file = name.clone();
            file.push(suffix);
            match std::fs::metadata(&file) {
                Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                    let mode = meta.permissions().mode() & 0o700;
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))?;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
