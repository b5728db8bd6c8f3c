//! The `Idempotency-Key`s of ledger-bound requests this process ran
//! recently: which one runs now (a second request with it gets 409) and
//! which request each was used with (another request gets 422).
//!
//! The ledger keeps a statement's effect to one and answers its retries
//! (see [`crate::forward::submit`]), so this memory only catches a client's
//! misuse of a key. It is bounded: a key is remembered for [`WINDOW`] and
//! at most [`CAPACITY`] keys are, the oldest forgotten first; a restart
//! forgets them all. A key is held by its digest with the scope, so an
//! entry costs the same whatever the key's length.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

/// How long a finished key is remembered.
pub const WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// The most keys remembered (about 100 bytes each).
pub const CAPACITY: usize = 1 << 18;

/// A `(scope, key)` pair, by digest.
type Slot = [u8; 16];

/// What is known of a remembered key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The hash of the request it was used with.
    request: [u8; 32],
    /// Whether a request with it runs now.
    running: bool,
    /// Whether it left the expiry queue while running: forget it once done.
    expired: bool,
    /// When it was first used; matches its place in the expiry queue.
    since: Instant,
}

#[derive(Debug, Default)]
struct Keys {
    entries: HashMap<Slot, Entry>,
    /// Slots in the order they were first used, for expiry.
    order: VecDeque<(Instant, Slot)>,
}

impl Keys {
    /// Forgets keys past the window or over capacity, oldest first; a
    /// running key is kept until it finishes.
    fn expire(&mut self, now: Instant) {
        while let Some(&(since, slot)) = self.order.front() {
            let old = now.saturating_duration_since(since) >= WINDOW;
            if !old && self.order.len() < CAPACITY {
                break;
            }
            self.order.pop_front();
            match self.entries.get_mut(&slot) {
                Some(entry) if entry.since == since && entry.running => entry.expired = true,
                Some(entry) if entry.since == since => {
                    self.entries.remove(&slot);
                }
                _ => {}
            }
        }
    }
}

/// Why a key cannot be held now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// A request with it runs.
    Running,
    /// It was used with another request.
    Reused,
}

/// The recently used keys of ledger-bound requests; cheap to clone.
#[derive(Debug, Default, Clone)]
pub struct Recent(Arc<Mutex<Keys>>);

impl Recent {
    /// Holds `key` of `scope` for a run of the request hashed `request`.
    pub fn hold(&self, scope: &str, key: &str, request: [u8; 32]) -> Result<Held, Busy> {
        let slot = slot(scope, key);
        let now = Instant::now();
        let mut keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        keys.expire(now);
        match keys.entries.get_mut(&slot) {
            Some(entry) if entry.running => return Err(Busy::Running),
            Some(entry) if entry.request != request => return Err(Busy::Reused),
            Some(entry) => entry.running = true,
            None => {
                let entry = Entry {
                    request,
                    running: true,
                    expired: false,
                    since: now,
                };
                keys.entries.insert(slot, entry);
                keys.order.push_back((now, slot));
            }
        }
        Ok(Held {
            keys: self.clone(),
            slot,
        })
    }
}

/// A held key; dropping it ends the run and keeps the key remembered.
#[derive(Debug)]
pub struct Held {
    keys: Recent,
    slot: Slot,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut keys = self.keys.0.lock().unwrap_or_else(PoisonError::into_inner);
        match keys.entries.get_mut(&self.slot) {
            Some(entry) if entry.expired => {
                keys.entries.remove(&self.slot);
            }
            Some(entry) => entry.running = false,
            None => {}
        }
    }
}

/// The digest of a scope and key.
fn slot(scope: &str, key: &str) -> Slot {
    let mut hasher = Sha256::new();
    hasher.update(scope.as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut slot = [0; 16];
    slot.copy_from_slice(&digest[..16]);
    slot
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Recent {
        /// How many keys are remembered.
        fn len(&self) -> usize {
            self.0.lock().unwrap().entries.len()
        }
    }

    #[test]
    fn a_key_is_held_once_and_remembers_its_request() {
        let recent = Recent::default();
        let held = recent.hold("a", "k", [1; 32]).unwrap();
        assert_eq!(recent.hold("a", "k", [1; 32]).unwrap_err(), Busy::Running);
        // Another scope's key of the same name is another key.
        drop(recent.hold("b", "k", [2; 32]).unwrap());
        drop(held);
        drop(recent.hold("a", "k", [1; 32]).unwrap());
        assert_eq!(recent.hold("a", "k", [3; 32]).unwrap_err(), Busy::Reused);
        assert_eq!(recent.len(), 2);
    }

    #[test]
    fn the_oldest_keys_are_forgotten_past_capacity_but_not_while_running() {
        let recent = Recent::default();
        let running = recent.hold("s", "first", [0; 32]).unwrap();
        drop(recent.hold("s", "second", [0; 32]).unwrap());
        for i in 0..CAPACITY {
            drop(recent.hold("s", &format!("k{i}"), [0; 32]).unwrap());
        }
        assert_eq!(
            recent.hold("s", "first", [0; 32]).unwrap_err(),
            Busy::Running
        );
        // Forgotten: another request may use it.
        drop(recent.hold("s", "second", [9; 32]).unwrap());
        // Past capacity while running: forgotten once it finishes.
        drop(running);
        drop(recent.hold("s", "first", [5; 32]).unwrap());
        assert!(recent.len() <= CAPACITY, "{}", recent.len());
    }
}
