//! WAL checkpoints off the writer's path.
//!
//! Left to SQLite, the writer runs each checkpoint inside the commit that
//! crosses the threshold: it copies the whole WAL into the database and
//! syncs it while every submitter waits (a p99 of ~100 ms at 64 submitters,
//! one stall per ~16k pages written). Here a thread of its own does the
//! copying, after blocks have been synced: a `PASSIVE` checkpoint, which
//! never blocks the writer, at most every [`Checkpointer::INTERVAL`]; once
//! the WAL holds [`Checkpointer::RESTART_AT`] frames, a `RESTART`
//! checkpoint, which waits for the writer between two blocks, copies the few
//! frames the passive ones have not, and lets the next block start the WAL
//! from its beginning so it does not grow. The writer keeps SQLite's
//! automatic checkpoint only as a backstop, at [`WRITER_AUTOCHECKPOINT`].

use std::path::Path;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::LedgerError;

/// The writer's own automatic checkpoint, in frames: reached only if the
/// checkpointer falls far behind or has stopped.
pub(crate) const WRITER_AUTOCHECKPOINT: u32 = 65_536;

/// The thread that checkpoints the ledger's WAL.
pub(crate) struct Checkpointer {
    conn: Connection,
    interval: Duration,
    restart_at: i64,
}

impl Checkpointer {
    /// Least time between two passive checkpoints: copying more frames at
    /// once writes each hot page once instead of many times.
    pub(crate) const INTERVAL: Duration = Duration::from_millis(200);
    /// WAL frames at which the WAL is restarted.
    pub(crate) const RESTART_AT: i64 = 16_384;

    /// A checkpointer on its own connection to the database at `db`.
    pub(crate) fn open(db: &Path) -> Result<Self, LedgerError> {
        Self::with_limits(db, Self::INTERVAL, Self::RESTART_AT)
    }

    /// [`Self::open`] with other limits (tests use small ones).
    fn with_limits(db: &Path, interval: Duration, restart_at: i64) -> Result<Self, LedgerError> {
        let conn = Connection::open(db)
            .map_err(|e| LedgerError::storage("opening the checkpoint connection", e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| LedgerError::storage("configuring the checkpoint connection", e))?;
        Ok(Self {
            conn,
            interval,
            restart_at,
        })
    }

    /// Checkpoints after synced blocks (one tick each) until the syncer stops.
    pub(crate) fn run(self, ticks: Receiver<()>) {
        let mut last = Instant::now();
        while ticks.recv().is_ok() {
            let wait = self.interval.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            // The ticks that came meanwhile are covered by this pass.
            loop {
                match ticks.try_recv() {
                    Ok(()) => {}
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            last = Instant::now();
            match self.checkpoint("PASSIVE") {
                Ok(frames) if frames >= self.restart_at => {
                    if let Err(e) = self.checkpoint("RESTART") {
                        tracing::warn!(error = %e, "restarting the ledger's WAL failed");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "a ledger checkpoint failed"),
            }
        }
    }

    /// Runs one checkpoint in `mode`; returns the frames in the WAL.
    fn checkpoint(&self, mode: &str) -> rusqlite::Result<i64> {
        self.conn
            .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
                row.get::<_, i64>(1)
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn the_wal_stops_growing_while_writes_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("test.sqlite");
        let writer = Connection::open(&db).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                 PRAGMA wal_autocheckpoint=0; CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB);",
            )
            .unwrap();
        let checkpointer = Checkpointer::with_limits(&db, Duration::ZERO, 64).unwrap();
        let (ticks, rx) = mpsc::sync_channel(1);
        let thread = std::thread::spawn(move || checkpointer.run(rx));
        for k in 0..400 {
            // Four pages of new data per commit.
            writer
                .execute("INSERT INTO t VALUES (?1, zeroblob(16000))", [k])
                .unwrap();
            ticks.send(()).unwrap();
        }
        drop(ticks);
        thread.join().unwrap();
        // A restarted WAL is written again from its start, so its file
        // never grows far past the threshold; without restarts it would hold
        // every frame written (over 1,600 pages, 6.5 MB).
        let wal = std::fs::metadata(dir.path().join("test.sqlite-wal"))
            .unwrap()
            .len();
        assert!(
            wal < 400 * 4096,
            "expected the WAL restarted near 64 frames, found a {wal}-byte WAL"
        );
        let count: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 400, "checkpoints lose nothing");
    }
}
