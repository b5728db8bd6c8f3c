//! Event subscriptions: stored events from a block number on, then live ones.
//!
//! The sync thread publishes the chain height on a `watch` channel once a
//! block is on disk; a subscription reads the `events` table up to the height it last
//! saw and then waits for the height to move. It never misses a block (it
//! reads by block number, not from a lossy broadcast) and ends when the
//! ledger closes.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::watch;

use super::{Shared, store};
use crate::{ChaincodeEvent, LedgerError};

/// The most blocks read from the store in one go.
const BLOCKS_PER_READ: u64 = 256;

struct Follow {
    shared: Arc<Shared>,
    height: watch::Receiver<u64>,
    next_block: u64,
    buffered: VecDeque<ChaincodeEvent>,
    failed: bool,
}

/// The stream behind [`Ledger::events`](crate::Ledger::events).
pub(crate) fn follow(
    shared: Arc<Shared>,
    height: watch::Receiver<u64>,
    from_block: u64,
) -> BoxStream<'static, Result<ChaincodeEvent, LedgerError>> {
    let state = Follow {
        shared,
        height,
        next_block: from_block,
        buffered: VecDeque::new(),
        failed: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if s.failed {
                return None;
            }
            if let Some(event) = s.buffered.pop_front() {
                return Some((Ok(event), s));
            }
            let height = *s.height.borrow_and_update();
            if s.next_block < height {
                let from = s.next_block;
                let to = height.min(from + BLOCKS_PER_READ);
                let shared = s.shared.clone();
                let read = tokio::task::spawn_blocking(move || {
                    shared.readers.with(|conn| store::events(conn, from, to))
                })
                .await;
                match read {
                    Ok(Ok(events)) => {
                        s.buffered.extend(events);
                        s.next_block = to;
                    }
                    Ok(Err(e)) => {
                        s.failed = true;
                        return Some((Err(e), s));
                    }
                    Err(e) => {
                        s.failed = true;
                        let e = LedgerError::Unavailable(format!("event read task failed: {e}"));
                        return Some((Err(e), s));
                    }
                }
                continue;
            }
            if s.height.changed().await.is_err() {
                // The writer stopped; everything committed has been delivered.
                return None;
            }
        }
    })
    .boxed()
}
