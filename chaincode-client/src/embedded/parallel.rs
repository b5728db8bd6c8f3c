//! The execution pool: runs a batch's transactions concurrently against the
//! committed state (execute–order–validate, in-process).
//!
//! Each worker thread owns one read-only SQLite connection and runs one
//! transaction at a time inside a deferred read transaction, recording its
//! read set (see `stub::ReadSet`). The writer hands a batch to the pool only
//! between commits and starts its own write transaction only after every
//! worker has answered, so all of a batch's runs see exactly the state
//! committed before the batch (WAL readers never block on, nor see, an
//! uncommitted writer). The writer then validates the results in batch order
//! and re-executes serially any transaction whose reads overlap the writes
//! of an earlier transaction of the same batch (module `writer`).

use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use carechain_chaincode::{Chaincode, Timestamp};
use rusqlite::Connection;

use super::store;
use super::stub::{Call, Outcome, ReadSet, execute_recorded};
use crate::LedgerError;

/// One transaction to run: its proposal, and the id and time assigned to it.
pub(crate) struct Job {
    pub(crate) function: String,
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) tx_id: String,
    pub(crate) timestamp: Timestamp,
}

struct Task {
    jobs: Arc<Vec<Job>>,
    index: usize,
    done: Sender<(usize, Outcome)>,
}

/// A fixed set of worker threads sharing one task queue.
pub(crate) struct Pool {
    tasks: Option<Sender<Task>>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `workers` threads reading the ledger database in `dir`.
    pub(crate) fn start(
        dir: &Path,
        chaincode: Arc<dyn Chaincode>,
        workers: usize,
    ) -> Result<Self, LedgerError> {
        let (tasks, queue) = mpsc::channel::<Task>();
        let queue = Arc::new(Mutex::new(queue));
        let path = dir.join(store::FILE);
        let mut pool = Self {
            tasks: Some(tasks),
            threads: Vec::with_capacity(workers),
        };
        for i in 0..workers {
            let (queue, chaincode, path) = (queue.clone(), chaincode.clone(), path.clone());
            let thread = std::thread::Builder::new()
                .name(format!("ledger-exec-{i}"))
                .spawn(move || work(&path, &*chaincode, &queue))
                .map_err(|e| {
                    LedgerError::Unavailable(format!("cannot start an execution thread: {e}"))
                })?;
            pool.threads.push(thread);
        }
        Ok(pool)
    }

    /// The number of worker threads.
    pub(crate) fn size(&self) -> usize {
        self.threads.len()
    }

    /// Starts running every job and returns at once; see [`Running::take`].
    pub(crate) fn dispatch(&self, jobs: &Arc<Vec<Job>>) -> Running {
        let (done, answers) = mpsc::channel();
        if let Some(tasks) = &self.tasks {
            for index in 0..jobs.len() {
                let task = Task {
                    jobs: jobs.clone(),
                    index,
                    done: done.clone(),
                };
                if tasks.send(task).is_err() {
                    break;
                }
            }
        }
        Running {
            answers,
            arrived: (0..jobs.len()).map(|_| None).collect(),
            closed: false,
        }
    }
}

/// Jobs handed to the pool, collected in job order as they finish.
pub(crate) struct Running {
    answers: Receiver<(usize, Outcome)>,
    arrived: Vec<Option<Outcome>>,
    closed: bool,
}

impl Running {
    /// Job `index`'s outcome, waiting for it if needed; `None` if no worker
    /// will answer for it (the writer then runs it serially).
    pub(crate) fn take(&mut self, index: usize) -> Option<Outcome> {
        while !self.closed && self.arrived.get(index).is_some_and(Option::is_none) {
            match self.answers.recv() {
                Ok((i, outcome)) => {
                    if let Some(slot) = self.arrived.get_mut(i) {
                        *slot = Some(outcome);
                    }
                }
                // Every task has answered or been dropped by a dead worker.
                Err(_) => self.closed = true,
            }
        }
        self.arrived.get_mut(index).and_then(Option::take)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.tasks.take();
        for thread in self.threads.drain(..) {
            // A panicked worker has already dropped its tasks.
            let _ = thread.join();
        }
    }
}

fn work(path: &Path, chaincode: &dyn Chaincode, queue: &Mutex<Receiver<Task>>) {
    let mut conn: Option<Connection> = None;
    loop {
        let task = {
            let Ok(queue) = queue.lock() else { return };
            match queue.recv() {
                Ok(task) => task,
                Err(_) => return,
            }
        };
        let Some(job) = task.jobs.get(task.index) else {
            continue;
        };
        let outcome = run_one(&mut conn, path, chaincode, job);
        let _ = task.done.send((task.index, outcome));
    }
}

fn run_one(
    conn: &mut Option<Connection>,
    path: &Path,
    chaincode: &dyn Chaincode,
    job: &Job,
) -> Outcome {
    let failed = |e: LedgerError| Outcome {
        reads: ReadSet::default(),
        result: Err(e),
    };
    if conn.is_none() {
        match store::open_reader(path) {
            Ok(c) => *conn = Some(c),
            Err(e) => return failed(e),
        }
    }
    let Some(conn) = conn.as_mut() else {
        return failed(LedgerError::Unavailable("no read connection".into()));
    };
    // One read transaction: every read of the run sees the same snapshot.
    let snapshot = match conn.transaction() {
        Ok(s) => s,
        Err(e) => return failed(LedgerError::storage("starting a read", e)),
    };
    execute_recorded(
        &snapshot,
        chaincode,
        Call::new(&job.tx_id, job.timestamp, &job.function, &job.args),
    )
}
