//! The relay's data files are owner-only (mode 0600): its database and the
//! embedded ledger's, with their SQLite `-wal` and `-shm`, and the secret
//! files it generates; a database left 0644 by an older relay is tightened.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use carechain_api::relay::Relay;

use crate::support::test_config;

fn mode(path: &Path) -> Option<u32> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[actix_web::test]
async fn data_and_secret_files_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    // A database an older relay created world-readable, with its WAL.
    std::fs::write(dir.path().join("relay.sqlite"), b"").unwrap();
    std::fs::set_permissions(
        dir.path().join("relay.sqlite"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    // The relay as `serve` opens it: generated JWT secret and VAPID key.
    let state = Relay::builder(config).shared_database().open().unwrap();
    let mut conn = state.pool.get().unwrap();
    carechain_api::db::migrate(&mut conn).unwrap();
    let data = dir.path();
    let must_exist = [
        data.join("relay.sqlite"),
        data.join("relay.sqlite-wal"),
        data.join("relay.sqlite-shm"),
        data.join("ledger/ledger.sqlite"),
        data.join("ledger/ledger.sqlite-wal"),
        data.join("ledger/ledger.sqlite-shm"),
        data.join("jwt-secret"),
        data.join("vapid.key"),
    ];
    for path in &must_exist {
        assert_eq!(mode(path), Some(0o600), "{}", path.display());
    }
    drop(conn);
}
