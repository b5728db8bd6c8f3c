//! Who is connected: a per-actor `watch` channel holding the newest outbox id.
//!
//! The producer only ever overwrites a value (never blocks, never queues), and
//! each socket reads its rows from the database after a wake-up, so a slow
//! client costs one stale `watch` value, not a growing buffer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

/// The per-actor wake-up channels.
#[derive(Debug, Default, Clone)]
pub struct Hub {
    inner: Arc<Mutex<HashMap<String, watch::Sender<i64>>>>,
}

/// A socket's subscription; unregisters itself when dropped.
#[derive(Debug)]
pub struct Subscription {
    hub: Hub,
    actor: String,
    /// Changes whenever a new outbox row for the actor is committed.
    pub rx: watch::Receiver<i64>,
}

/// A [`Hub`] that does not keep it alive (the cross-relay listener's).
#[derive(Debug, Clone)]
pub struct WeakHub(std::sync::Weak<Mutex<HashMap<String, watch::Sender<i64>>>>);

impl WeakHub {
    /// The hub, unless every relay state holding it is gone.
    pub fn upgrade(&self) -> Option<Hub> {
        self.0.upgrade().map(|inner| Hub { inner })
    }
}

impl Hub {
    /// A handle that does not keep the hub alive.
    pub fn downgrade(&self) -> WeakHub {
        WeakHub(Arc::downgrade(&self.inner))
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<i64>>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes a socket of `actor` to wake-ups.
    pub fn subscribe(&self, actor: &str) -> Subscription {
        let mut map = self.map();
        let tx = map
            .entry(actor.to_owned())
            .or_insert_with(|| watch::channel(0).0);
        let rx = tx.subscribe();
        Subscription {
            hub: self.clone(),
            actor: actor.to_owned(),
            rx,
        }
    }

    /// Wakes every open socket of `actor`; false when it has none.
    pub fn notify(&self, actor: &str, id: i64) -> bool {
        let map = self.map();
        match map.get(actor) {
            Some(tx) if tx.receiver_count() > 0 => {
                tx.send_modify(|v| *v = (*v).max(id));
                true
            }
            _ => false,
        }
    }

    /// Wakes every open socket (each re-reads its rows): after a gap in
    /// which wake-ups may have been missed.
    pub fn wake_all(&self) {
        for tx in self.map().values() {
            if tx.receiver_count() > 0 {
                tx.send_modify(|_| {});
            }
        }
    }

    /// Whether `actor` has at least one open socket.
    pub fn is_online(&self, actor: &str) -> bool {
        self.map()
            .get(actor)
            .is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// The number of actors with an open socket.
    pub fn online_actors(&self) -> usize {
        self.map()
            .values()
            .filter(|tx| tx.receiver_count() > 0)
            .count()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut map = self.hub.map();
        if let Some(tx) = map.get(&self.actor) {
            // This receiver is still counted until the struct is dropped.
            if tx.receiver_count() <= 1 {
                map.remove(&self.actor);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_reaches_subscribers_and_cleans_up() {
        let hub = Hub::default();
        assert!(!hub.notify("a", 1));
        let mut s1 = hub.subscribe("a");
        let s2 = hub.subscribe("a");
        assert!(hub.is_online("a"));
        assert!(hub.notify("a", 5));
        assert!(s1.rx.has_changed().unwrap_or(false));
        assert_eq!(*s1.rx.borrow_and_update(), 5);
        drop(s2);
        assert!(hub.is_online("a"));
        drop(s1);
        assert!(!hub.is_online("a"));
        assert_eq!(hub.online_actors(), 0);
    }
}
