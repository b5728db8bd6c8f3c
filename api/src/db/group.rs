//! Group commit for the relay's small durable writes.
//!
//! One thread owns the write path: it takes every write queued since its last
//! commit, runs them in one transaction, and commits that transaction once,
//! with a synced commit (SQLite `synchronous = FULL`, PostgreSQL
//! `synchronous_commit = on`). Each caller gets its answer only after that
//! commit, so an answer the relay gives is on disk, as with one transaction
//! per write; but many requests share one fsync and the SQLite write lock is
//! taken once per batch, not once per request.
//!
//! A write that fails sinks only itself. The writes first run straight in
//! the transaction; if one fails, the transaction is rolled back and the
//! batch runs again with each write in its own savepoint, so the failed
//! one's changes go and the others commit. Writes are therefore `FnMut`:
//! one may run twice, and only the second run's changes and result count.
//! Keeping savepoints to that rare path matters: on SQLite each copies every
//! page its write changes into the statement journal, and on PostgreSQL
//! more than 64 subtransactions in one transaction overflow each backend's
//! cache of them. A failed commit fails every write of the batch.
//!
//! Writes that the relay can rebuild after a crash ([`Durability::Rebuildable`]:
//! outbox rows, which the producer derives again from the ledger) do not
//! need a sync of their own: a batch of only those commits
//! without one (SQLite `synchronous = NORMAL`, PostgreSQL
//! `synchronous_commit = off`). Both databases stay consistent and lose at
//! most a suffix of such commits in a power loss (a killed process loses
//! nothing), and the next synced commit makes every earlier one durable,
//! because both logs are written in order.

use std::sync::mpsc;
use std::thread;

use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;
use tokio::sync::oneshot;

use crate::db::{DbConnection, DbPool};
use crate::error::ApiError;

/// Most writes committed together.
const MAX_BATCH: usize = 256;

/// A queued write, type-erased: run (again, if its batch is retried) and
/// answered once its batch's commit outcome is known.
trait Write: Send {
    /// Runs the write on `conn`, in a savepoint of its own if `isolated`,
    /// keeping its result; returns whether it succeeded.
    fn run(&mut self, conn: &mut DbConnection, isolated: bool) -> bool;
    /// Answers the caller: the kept result if the batch committed
    /// (`commit_failed` is `None`), else the commit's failure.
    fn answer(self: Box<Self>, commit_failed: Option<&str>);
}

/// A write and where its result goes.
struct Pending<T, F> {
    f: F,
    result: Option<Result<T, ApiError>>,
    reply: oneshot::Sender<Result<T, ApiError>>,
}

impl<T, F> Write for Pending<T, F>
where
    F: FnMut(&mut DbConnection) -> Result<T, ApiError> + Send,
    T: Send,
{
    fn run(&mut self, conn: &mut DbConnection, isolated: bool) -> bool {
        let result = if isolated {
            conn.transaction(&mut self.f)
        } else {
            (self.f)(conn)
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, commit_failed: Option<&str>) {
        let result = match (commit_failed, self.result) {
            (None, Some(result)) => result,
            (failed, _) => Err(ApiError::unavailable(format!(
                "database: {}",
                failed.unwrap_or("the write did not run")
            ))),
        };
        // The requester may have gone away; its write stands either way.
        let _ = self.reply.send(result);
    }
}

/// A write waiting for the writer thread.
type Job = Box<dyn Write>;

/// What a write needs of its batch's commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk before the writer answers: the relay's own state.
    Synced,
    /// Rebuilt after a crash if lost; see the module docs.
    Rebuildable,
}

/// The handle to the group-commit thread; cheap to clone.
#[derive(Clone)]
pub struct GroupWriter {
    jobs: mpsc::Sender<(Durability, Job)>,
}

impl std::fmt::Debug for GroupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupWriter")
    }
}

impl GroupWriter {
    /// Starts the writer thread on `pool`; it ends when the last handle is dropped.
    ///
    /// Panics only if the OS cannot start a thread, as [`thread::spawn`] does.
    pub fn start(pool: DbPool) -> GroupWriter {
        let (jobs, queue) = mpsc::channel::<(Durability, Job)>();
        let spawned = thread::Builder::new()
            .name("relay-db-writer".into())
            .spawn(move || writer(&pool, &queue));
        if let Err(e) = spawned {
            panic!("cannot start the database writer thread: {e}");
        }
        GroupWriter { jobs }
    }

    /// Runs `f` in the next batch; returns its result once that batch is
    /// committed, and synced unless `durability` allows otherwise.
    pub async fn run<T, F>(&self, durability: Durability, f: F) -> Result<T, ApiError>
    where
        F: FnMut(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.queue(durability, f)?.await
    }

    /// Returns once every write queued before this call is durable (the
    /// queue is first in, first out, and this one is synced); for a clean
    /// shutdown.
    pub async fn flush(&self) -> Result<(), ApiError> {
        self.run(Durability::Synced, |_| Ok(())).await
    }

    /// Queues `f` for the next batch now; the returned future resolves to
    /// its result once that batch is committed as `durability` asks.
    pub fn queue<T, F>(
        &self,
        durability: Durability,
        f: F,
    ) -> Result<impl Future<Output = Result<T, ApiError>> + use<T, F>, ApiError>
    where
        F: FnMut(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, ApiError>>();
        let job: Job = Box::new(Pending {
            f,
            result: None,
            reply,
        });
        self.jobs
            .send((durability, job))
            .map_err(|_| ApiError::unavailable("the database writer has stopped"))?;
        Ok(async move {
            answer
                .await
                .map_err(|_| ApiError::unavailable("the database writer has stopped"))?
        })
    }
}

/// The writer loop: one transaction per batch of queued jobs.
fn writer(pool: &DbPool, queue: &mpsc::Receiver<(Durability, Job)>) {
    while let Ok((first_durability, first)) = queue.recv() {
        let mut batch = vec![first];
        let mut synced = first_durability == Durability::Synced;
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok((durability, job)) => {
                    synced |= durability == Durability::Synced;
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        commit(pool, batch, synced);
    }
}

/// Runs one batch in one transaction and answers every write after the
/// commit, which is synced if `synced`.
fn commit(pool: &DbPool, mut batch: Vec<Job>, synced: bool) {
    let mut pooled = match pool.get() {
        Ok(pooled) => pooled,
        Err(e) => {
            let reason = e.to_string();
            tracing::warn!(error = %reason, "the database writer has no connection");
            for job in batch {
                job.answer(Some(&reason));
            }
            return;
        }
    };
    let conn: &mut DbConnection = &mut pooled;
    // SQLite's level is the connection's: lowered for this batch only, as
    // the connection goes back to the pool after it.
    let unsynced_sqlite = !synced && matches!(conn, DbConnection::Sqlite(_));
    let mut outcome = if unsynced_sqlite {
        conn.batch_execute("PRAGMA synchronous = NORMAL")
    } else {
        Ok(())
    };
    if outcome.is_ok() {
        outcome = match run_batch(conn, &mut batch, synced, false) {
            Err(diesel::result::Error::RollbackTransaction) => {
                run_batch(conn, &mut batch, synced, true)
            }
            other => other,
        };
    }
    if unsynced_sqlite && let Err(e) = conn.batch_execute("PRAGMA synchronous = FULL") {
        // Setting the level only writes a field of the connection, so this
        // does not happen; if it did, the connection must not serve others
        // unsynced, and r2d2 has no way to discard one: it is leaked.
        tracing::error!(error = %e, "cannot restore synchronous = FULL; the connection is retired");
        std::mem::forget(pooled);
    }
    let reason = outcome.err().map(|e| e.to_string());
    if let Some(reason) = &reason {
        tracing::warn!(error = %reason, writes = batch.len(), "database batch failed");
    }
    for job in batch {
        job.answer(reason.as_deref());
    }
}

/// Runs every write of `batch` in one transaction: straight in it, or each
/// in its own savepoint if `isolated`. When not `isolated`, a failed write
/// rolls the transaction back with `RollbackTransaction`, which nothing
/// else here returns.
fn run_batch(
    conn: &mut DbConnection,
    batch: &mut [Job],
    synced: bool,
    isolated: bool,
) -> Result<(), diesel::result::Error> {
    conn.transaction(|conn| {
        match conn {
            // A job may read before it writes; see `db::write`.
            DbConnection::Sqlite(_) => crate::db::take_write_lock(conn)?,
            DbConnection::Pg(c) if !synced => {
                c.batch_execute("SET LOCAL synchronous_commit = off")?;
            }
            DbConnection::Pg(_) => {}
        }
        for job in batch.iter_mut() {
            if !job.run(conn, isolated) && !isolated {
                return Err(diesel::result::Error::RollbackTransaction);
            }
        }
        Ok(())
    })
}
