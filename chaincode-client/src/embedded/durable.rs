//! Making committed blocks durable off the writer's path.
//!
//! The writer commits each block with `synchronous=NORMAL`: SQLite appends
//! the block's WAL frames (checksummed, ending in a commit frame) but does
//! not fsync them, and goes on to the next block at once. The syncer thread
//! then `fdatasync`s the WAL file and only after that answers the block's
//! submitters and moves the published chain height, so every answer, event
//! and height a client sees is on disk, as with `synchronous=FULL`. Blocks
//! committed while one sync runs share the next one (group commit on the
//! fsync as well as on the write lock), and the fsync of block `n` overlaps
//! the writing of block `n + 1` instead of stalling it.
//!
//! Why this is sound: in WAL mode SQLite stays consistent under
//! `synchronous=NORMAL` (after a crash the WAL is replayed up to its last
//! valid commit frame; a checkpoint syncs the WAL before copying it into the
//! database and syncs the database after), so a crash can only lose a
//! suffix of committed blocks, and an fsync of the WAL file covers every
//! frame written before it was called. No answered block is in that suffix.
//!
//! A failed fsync leaves the on-disk state unknown (the kernel may have
//! dropped the dirty pages), so it is not retried: the blocks waiting on it
//! and every later submission fail with [`LedgerError::Storage`] until the
//! ledger is reopened, which recovers from what is on disk.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, OnceLock};

use tokio::sync::{oneshot, watch};

use crate::{Committed, LedgerError};

/// A submitter's answer channel.
pub(crate) type Reply = oneshot::Sender<Result<Committed, LedgerError>>;

/// A block committed (not yet synced): each transaction's submitter and
/// answer (every answer names the block).
pub(crate) type Pending = Vec<(Reply, Committed)>;

/// Why the ledger stopped accepting submissions, once a sync failed.
pub(crate) type Failure = Arc<OnceLock<String>>;

/// The storage error every submission gets after a failed sync.
fn failed(reason: &str) -> LedgerError {
    LedgerError::storage(
        "syncing the ledger's write-ahead log; reopen the ledger to recover",
        std::io::Error::other(reason.to_owned()),
    )
}

/// Answers every one of `replies` with the sync failure `reason`.
pub(crate) fn refuse(replies: impl IntoIterator<Item = Reply>, reason: &str) {
    for reply in replies {
        // A submitter that stopped waiting is no error of ours.
        let _ = reply.send(Err(failed(reason)));
    }
}

/// The thread that syncs the WAL and answers submitters.
pub(crate) struct Syncer {
    wal: File,
    height: watch::Sender<u64>,
    failure: Failure,
    /// Tells the checkpointer that more blocks are durable.
    checkpoints: SyncSender<()>,
}

impl Syncer {
    /// A syncer for the ledger database at `db`, whose `-wal` file must
    /// exist (the writer has opened the database in WAL mode and read it);
    /// syncs it once, so what the writer wrote while opening is durable.
    pub(crate) fn open(
        db: &Path,
        height: watch::Sender<u64>,
        failure: Failure,
        checkpoints: SyncSender<()>,
    ) -> Result<Self, LedgerError> {
        let mut name = db.as_os_str().to_owned();
        name.push("-wal");
        let wal = File::open(&name)
            .map_err(|e| LedgerError::storage("opening the write-ahead log for syncing", e))?;
        // What the writer did while opening (the genesis block) is durable too.
        wal.sync_data()
            .map_err(|e| LedgerError::storage("syncing the write-ahead log", e))?;
        Ok(Self {
            wal,
            height,
            failure,
            checkpoints,
        })
    }

    /// Syncs and answers until the writer drops its sender.
    pub(crate) fn run(self, pending: Receiver<Pending>) {
        while let Ok(first) = pending.recv() {
            let mut blocks = vec![first];
            blocks.extend(pending.try_iter());
            if let Some(reason) = self.failure.get() {
                refuse(blocks.into_iter().flatten().map(|(r, _)| r), reason);
                continue;
            }
            match self.wal.sync_data() {
                Ok(()) => {
                    // The height moves first: a submitter that reads it
                    // after its answer must see its own block.
                    let last = blocks.iter().flatten().last();
                    if let Some((_, committed)) = last {
                        self.height.send_replace(committed.block + 1);
                    }
                    for (reply, committed) in blocks.into_iter().flatten() {
                        // A submitter that stopped waiting is no error of ours.
                        let _ = reply.send(Ok(committed));
                    }
                    // Full: a checkpoint is already due.
                    let _ = self.checkpoints.try_send(());
                }
                Err(e) => {
                    let reason = format!("fdatasync failed: {e}");
                    tracing::error!(error = %reason, "the ledger cannot make blocks durable");
                    let reason = self.failure.get_or_init(|| reason).clone();
                    refuse(blocks.into_iter().flatten().map(|(r, _)| r), &reason);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// A syncer on a fresh WAL database; its channels and height.
    fn syncer(dir: &Path) -> (Syncer, Failure, watch::Receiver<u64>, Receiver<()>) {
        let db = dir.join("test.sqlite");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (k INTEGER);")
            .unwrap();
        let (height_tx, height) = watch::channel(1);
        let failure = Failure::default();
        let (ticks, tick_rx) = mpsc::sync_channel(1);
        let syncer = Syncer::open(&db, height_tx, failure.clone(), ticks).unwrap();
        (syncer, failure, height, tick_rx)
    }

    fn pending(block: u64) -> (Pending, oneshot::Receiver<Result<Committed, LedgerError>>) {
        let (reply, answer) = oneshot::channel();
        let committed = Committed {
            tx_id: format!("tx{block}"),
            block,
            payload: b"ok".to_vec(),
        };
        (vec![(reply, committed)], answer)
    }

    #[test]
    fn synced_blocks_are_answered_and_published_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (syncer, _failure, height, ticks) = syncer(dir.path());
        let (tx, rx) = mpsc::channel();
        let (one, first) = pending(1);
        let (two, second) = pending(2);
        tx.send(one).unwrap();
        tx.send(two).unwrap();
        drop(tx);
        syncer.run(rx);
        assert_eq!(first.blocking_recv().unwrap().unwrap().block, 1);
        assert_eq!(second.blocking_recv().unwrap().unwrap().tx_id, "tx2");
        assert_eq!(
            *height.borrow(),
            3,
            "the height moves past the last synced block"
        );
        assert!(ticks.try_recv().is_ok(), "the checkpointer is told");
    }

    #[test]
    fn after_a_failed_sync_nothing_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let (syncer, failure, height, _ticks) = syncer(dir.path());
        failure.set("fdatasync failed: EIO".into()).unwrap();
        let (tx, rx) = mpsc::channel();
        let (one, answer) = pending(1);
        tx.send(one).unwrap();
        drop(tx);
        syncer.run(rx);
        let refused = answer.blocking_recv().unwrap().unwrap_err();
        assert!(
            matches!(refused, LedgerError::Storage { .. }),
            "expected a storage error, found {refused:?}"
        );
        assert!(
            refused.to_string().contains("reopen the ledger"),
            "{refused}"
        );
        assert_eq!(
            *height.borrow(),
            1,
            "a block that was not synced is never published"
        );
    }
}
