//! The user's local keystore and login session.
//!
//! Keys live in one file in the staff keystore format (`CCADMKS1`:
//! argon2id-derived key, XChaCha20-Poly1305; [`carechain_core::wallet::StaffKeys`]
//! is the one implementation), so an admin can use the `admin.keystore` that
//! `carechain-relay init` wrote, and doctors and insurers get the same
//! protection. The session (relay URL, email and the rotating refresh token,
//! never the password) sits beside it in `<keystore>.session`, mode 0600.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use carechain_core::OsRng;
use carechain_core::wallet::{self, KeystoreError, StaffKeys};

/// Why the keystore or session could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The keystore file does not exist.
    #[error("no keystore at {0}: create one with `init` first")]
    Missing(PathBuf),
    /// The file exists already.
    #[error("{0} exists already; refusing to overwrite a keystore")]
    Exists(PathBuf),
    /// Wrong passphrase or damaged file.
    #[error("cannot open the keystore {path}: wrong passphrase or damaged file")]
    Open {
        /// The keystore's path.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// No passphrase or password was supplied.
    #[error("set {var} or answer the prompt ({reason})")]
    Secret {
        /// The environment variable to set.
        var: String,
        /// Why the prompt failed.
        reason: String,
    },
    /// The two passphrases typed differ, or the passphrase is too short.
    #[error("passphrase: {0}")]
    Weak(String),
    /// No session: log in first.
    #[error("not logged in with {0}: run `login` first")]
    NoSession(PathBuf),
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// A secret from environment variable `var`, else from a hidden prompt.
pub fn secret(var: &str, prompt: &str) -> Result<Zeroizing<String>, StoreError> {
    if let Ok(value) = std::env::var(var) {
        return Ok(Zeroizing::new(value));
    }
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(|e| StoreError::Secret {
            var: var.to_owned(),
            reason: e.to_string(),
        })
}

/// A new passphrase: from `var`, else prompted twice.
fn new_passphrase(var: &str) -> Result<Zeroizing<String>, StoreError> {
    let first = secret(var, "New keystore passphrase: ")?;
    if std::env::var(var).is_err() {
        let again = secret(var, "Repeat the passphrase: ")?;
        if *again != *first {
            return Err(StoreError::Weak("the two passphrases differ".into()));
        }
    }
    if first.chars().count() < 8 {
        return Err(StoreError::Weak(format!(
            "expected at least 8 characters, found {}",
            first.chars().count()
        )));
    }
    Ok(first)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Writes `bytes` to `path` owner-only (core's one implementation).
fn write_private(path: &Path, bytes: &[u8], replace: bool) -> Result<(), StoreError> {
    wallet::write_private(path, bytes, replace).map_err(io(path))
}

/// Generates fresh signing and HPKE keys and seals them into a new keystore at `path`.
pub fn create(path: &Path, passphrase_var: &str) -> Result<StaffKeys, StoreError> {
    if path.exists() {
        return Err(StoreError::Exists(path.to_owned()));
    }
    let passphrase = new_passphrase(passphrase_var)?;
    let bar = spinner("generating keys and sealing them with argon2id");
    let keys = StaffKeys::generate(&mut OsRng);
    let sealed = keys.seal(&passphrase, &mut OsRng);
    bar.finish_and_clear();
    let sealed = sealed.map_err(|e| StoreError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    write_private(path, &sealed, false)?;
    Ok(keys)
}

/// Opens the keystore at `path` with the passphrase from `passphrase_var` or a prompt.
pub fn open(path: &Path, passphrase_var: &str) -> Result<StaffKeys, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing(path.to_owned()));
    }
    let passphrase = secret(passphrase_var, "Keystore passphrase: ")?;
    open_with(path, &passphrase)
}

/// Opens the keystore at `path` with `passphrase`.
pub fn open_with(path: &Path, passphrase: &str) -> Result<StaffKeys, StoreError> {
    let sealed = std::fs::read(path).map_err(io(path))?;
    let bar = spinner("unlocking the keystore (argon2id)");
    let keys = StaffKeys::open(&sealed, passphrase);
    bar.finish_and_clear();
    keys.map_err(|e| match e {
        KeystoreError::Open | KeystoreError::Kdf => StoreError::Open {
            path: path.to_owned(),
        },
    })
}

/// A login session: the relay, the account's email and its current refresh token.
#[derive(Serialize, Deserialize)]
pub struct Session {
    /// The relay's URL.
    pub relay: String,
    /// The account's login email.
    pub email: String,
    /// The rotating refresh token (a secret: the file is mode 0600).
    pub refresh_token: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({}, {}, <redacted>)", self.relay, self.email)
    }
}

/// Where the session of keystore `path` is kept.
pub fn session_path(keystore: &Path) -> PathBuf {
    let mut name = keystore.as_os_str().to_owned();
    name.push(".session");
    PathBuf::from(name)
}

/// Saves `session` beside `keystore`.
pub fn save_session(keystore: &Path, session: &Session) -> Result<(), StoreError> {
    let path = session_path(keystore);
    let bytes = Zeroizing::new(serde_json::to_vec(session).map_err(|e| StoreError::Io {
        path: path.clone(),
        reason: e.to_string(),
    })?);
    write_private(&path, &bytes, true)
}

/// Loads the session saved beside `keystore`.
pub fn load_session(keystore: &Path) -> Result<Session, StoreError> {
    let path = session_path(keystore);
    let bytes = Zeroizing::new(
        std::fs::read(&path).map_err(|_| StoreError::NoSession(keystore.to_owned()))?,
    );
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Io {
        path,
        reason: format!("expected a session file: {e}"),
    })
}
