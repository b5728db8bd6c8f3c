//! A short-lived, per-process memory of accounts seen active, so that the
//! [`crate::auth::Caller`] extractor does not read the account row on every
//! request of a busy caller.
//!
//! Only "active" is remembered, for at most [`ActiveCache::TTL`]. A
//! suspension through this relay forgets the account at once; a suspension
//! through another relay process on the same database takes effect here
//! within the TTL (still far sooner than the access token's expiry).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most accounts remembered; past it the memory starts over.
const MAX_ENTRIES: usize = 100_000;

/// The memory's key for `account` in `session`: an account's sessions are
/// remembered apart, so that revoking one does not vouch for another.
pub fn key(account: &str, session: Option<&str>) -> String {
    match session {
        Some(session) => format!("{account}/{session}"),
        None => account.to_owned(),
    }
}

/// Accounts recently read as active, with when they were read.
#[derive(Debug, Default)]
pub struct ActiveCache {
    seen: Mutex<HashMap<String, Instant>>,
}

impl ActiveCache {
    /// How long an "active" reading is trusted.
    pub const TTL: Duration = Duration::from_secs(1);

    /// Whether `account` was read as active less than [`Self::TTL`] ago.
    pub fn is_active(&self, account: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(account).is_some_and(|at| at.elapsed() < Self::TTL)
    }

    /// Remembers that `account` was just read as active.
    pub fn remember(&self, account: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_ENTRIES {
            seen.clear();
        }
        seen.insert(account.to_owned(), Instant::now());
    }

    /// Forgets `account` (its status just changed).
    pub fn forget(&self, account: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let session = format!("{account}/");
        seen.retain(|key, _| key != account && !key.starts_with(&session));
    }
}

#[cfg(test)]
mod tests {
    use super::ActiveCache;

    #[test]
    fn remembers_forgets_and_expires() {
        let cache = ActiveCache::default();
        assert!(!cache.is_active("a"), "nothing is remembered at first");
        cache.remember("a");
        cache.remember("b");
        let (a1, ab) = (super::key("a", Some("s1")), super::key("ab", Some("s1")));
        cache.remember(&a1);
        cache.remember(&ab);
        assert!(cache.is_active("a") && cache.is_active("b"));
        assert!(
            !cache.is_active(&super::key("a", Some("s2"))),
            "sessions apart"
        );
        cache.forget("a");
        assert!(!cache.is_active("a"), "a suspension forgets at once");
        assert!(!cache.is_active(&a1), "... every session of the account");
        assert!(cache.is_active("b") && cache.is_active(&ab));
        std::thread::sleep(ActiveCache::TTL + std::time::Duration::from_millis(50));
        assert!(!cache.is_active("b"), "a reading expires after the TTL");
    }
}
