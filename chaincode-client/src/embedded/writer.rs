//! The single writer thread: group commit, with parallel execution.
//!
//! It blocks for one submission, then drains every submission already queued
//! (up to `max_batch`): that is the batch. It assigns every submission its id
//! and timestamp in batch order, before anything runs (both are contract
//! inputs). A batch of several runs on the execution pool (module
//! `parallel`) against the state committed before the batch, each run
//! recording its read set. Then, inside one SQLite transaction, it commits
//! in batch order: a transaction whose reads (keys, key histories, ranges)
//! include a key written by an earlier transaction of this batch is
//! re-executed serially against the in-progress state, which sees its
//! predecessors; any other keeps its recorded result, which is what a serial
//! run would produce since the contract depends only on what it reads and on
//! its id and timestamp. The outcome is exactly serial execution in batch
//! order, which `verify` replays. It appends one block, commits, and hands
//! the block's answers to the syncer (module `durable`), which fsyncs the
//! WAL and only then answers the submitters. While a block is being written
//! and synced new submissions queue up and form the next block, so blocks
//! grow with load and an idle ledger answers a lone submission at once.
//!
//! Run-ahead: just before committing block `n`, the submissions queued so
//! far become batch `n + 1`, numbered and started on the pool, so they
//! execute while block `n` is written. Their runs may see the state before
//! or after block `n` (a run's reads all come from one snapshot, either one), so
//! their validation counts block `n`'s writes as written before them: a
//! transaction that read none of those keys read the same values either
//! way. If block `n` fails to commit, batch `n + 1` is started afresh.
//!
//! Contention: when more than half of a parallel batch had to be
//! re-executed (e.g. every submitter bumps one counter), the next 16 batches
//! execute serially, without running each transaction twice; then a parallel
//! batch probes again. Serial or parallel, the results are the same.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};

use carechain_chaincode::Chaincode;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::Clock;
use super::block::{BlockHeader, Hash, Transaction, data_hash, tx_id};
use super::durable::{Failure, Pending, Reply, refuse};
use super::parallel::{Job, Pool, Running};
use super::store;
use super::stub::{Call, execute};
use crate::{Committed, LedgerError, Proposal};

/// One queued submission and where to send its answer.
pub(crate) struct Request {
    pub(crate) proposal: Proposal,
    pub(crate) reply: oneshot::Sender<Result<Committed, LedgerError>>,
}

/// The writer's state: the connection and the chain head.
pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) chaincode: Arc<dyn Chaincode>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) genesis: Hash,
    pub(crate) next_block: u64,
    pub(crate) head: Hash,
    pub(crate) max_batch: usize,
    /// Committed blocks on their way to the syncer.
    pub(crate) durable: Sender<Pending>,
    /// Set once a sync failed: every later submission is refused.
    pub(crate) failure: Failure,
    pub(crate) pool: Pool,
    pub(crate) stats: Arc<Counters>,
    /// Batches still to execute serially because most of a recent batch's
    /// transactions conflicted (each would have run twice).
    pub(crate) contended: u32,
}

/// How many batches run serially after a mostly conflicting one; the next
/// parallel batch probes whether the contention is over.
const CONTENDED_BATCHES: u32 = 16;

/// How the writer's transactions were executed, since the ledger opened.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Results taken from a parallel run.
    pub(crate) parallel: AtomicU64,
    /// Transactions run serially: conflicting, lone, or not answered by the pool.
    pub(crate) serial: AtomicU64,
    /// Of those, the ones re-executed because of a conflict within the batch.
    pub(crate) conflicts: AtomicU64,
    /// Batches started while the previous block was being committed.
    pub(crate) ran_ahead: AtomicU64,
}

/// A batch with ids and timestamps assigned, possibly already running on the pool.
struct Prepared {
    number: u64,
    replies: Vec<(u32, Reply)>,
    jobs: Arc<Vec<Job>>,
    running: Option<Running>,
    /// Keys written since the snapshot the runs may have read: the block
    /// committed while this batch ran ahead.
    written_before: BTreeSet<String>,
}

impl Prepared {
    /// Back to plain requests, dropping ids, timestamps and any runs.
    fn into_requests(self) -> Vec<Request> {
        let jobs = &self.jobs;
        self.replies
            .into_iter()
            .zip(jobs.iter())
            .map(|((_, reply), job)| Request {
                proposal: Proposal {
                    function: job.function.clone(),
                    args: job.args.clone(),
                },
                reply,
            })
            .collect()
    }
}

/// Takes up to `max_batch` requests already queued after `first` (if any).
fn drain(first: Option<Request>, queue: &Receiver<Request>, max_batch: usize) -> Vec<Request> {
    let mut batch: Vec<Request> = first.into_iter().collect();
    while batch.len() < max_batch {
        match queue.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    batch
}

/// Assigns ids and timestamps in batch order; runs the batch on the pool
/// (if given) when it has several transactions or when `ahead` (always worth
/// it then: it overlaps the previous block's fsync).
fn prepare(
    batch: Vec<Request>,
    number: u64,
    genesis: &Hash,
    clock: &dyn Clock,
    pool: Option<&Pool>,
    ahead: bool,
) -> Prepared {
    let mut replies = Vec::with_capacity(batch.len());
    let mut jobs = Vec::with_capacity(batch.len());
    for (seq, Request { proposal, reply }) in batch.into_iter().enumerate() {
        // `max_batch` is capped far below u32::MAX.
        let seq = u32::try_from(seq).unwrap_or(u32::MAX);
        let Proposal { function, args } = proposal;
        jobs.push(Job {
            tx_id: tx_id(genesis, number, seq, &function, &args),
            timestamp: clock.now(),
            function,
            args,
        });
        replies.push((seq, reply));
    }
    let jobs = Arc::new(jobs);
    let running = pool
        .filter(|pool| pool.size() > 0 && (jobs.len() > 1 || ahead))
        .map(|pool| pool.dispatch(&jobs));
    Prepared {
        number,
        replies,
        jobs,
        running,
        written_before: BTreeSet::new(),
    }
}

impl Writer {
    /// Whether the next batch may use the pool: not if recent batches mostly conflicted.
    fn pool_for_next(&mut self) -> bool {
        if self.contended > 0 {
            self.contended -= 1;
            return false;
        }
        true
    }

    /// Serves submissions until every sender is dropped.
    pub(crate) fn run(mut self, queue: Receiver<Request>) {
        let mut ahead: Option<Prepared> = None;
        loop {
            let prepared = match ahead.take() {
                Some(prepared) => prepared,
                None => {
                    let Ok(first) = queue.recv() else { return };
                    let batch = drain(Some(first), &queue, self.max_batch);
                    let (number, clock) = (self.next_block, self.clock.clone());
                    let pool = self.pool_for_next().then_some(&self.pool);
                    prepare(batch, number, &self.genesis, &*clock, pool, false)
                }
            };
            if let Some(reason) = self.failure.get() {
                refuse(prepared.replies.into_iter().map(|(_, r)| r), reason);
                continue;
            }
            ahead = self.commit_batch(prepared, &queue);
        }
    }

    /// Commits one batch and answers its submitters; returns the next batch
    /// if one was started while this one was being made durable.
    fn commit_batch(&mut self, prepared: Prepared, queue: &Receiver<Request>) -> Option<Prepared> {
        let number = prepared.number;
        let mut committed = Vec::with_capacity(prepared.jobs.len());
        let mut ahead = None;
        let result = self.execute_batch(prepared, &mut committed, queue, &mut ahead);
        match result {
            Ok(Some(header)) => {
                self.next_block = number + 1;
                self.head = header.hash();
                let answers: Pending = committed
                    .into_iter()
                    .map(|(reply, tx)| {
                        let answer = Committed {
                            tx_id: tx.tx_id,
                            block: number,
                            payload: tx.payload,
                        };
                        (reply, answer)
                    })
                    .collect();
                if let Err(lost) = self.durable.send(answers) {
                    // Only if the syncer panicked: nobody can vouch for the block.
                    let reason = "the ledger's sync thread has stopped".to_owned();
                    let reason = self.failure.get_or_init(|| reason);
                    refuse(lost.0.into_iter().map(|(r, _)| r), reason);
                }
                ahead
            }
            Ok(None) => ahead,
            Err(e) => {
                let message = e.to_string();
                for (reply, _) in committed {
                    let _ = reply.send(Err(LedgerError::storage(
                        format!("committing block {number}"),
                        std::io::Error::other(message.clone()),
                    )));
                }
                // The batch that ran ahead was numbered for a block that did
                // not happen: start it again from scratch.
                let batch = ahead.map(Prepared::into_requests)?;
                let clock = self.clock.clone();
                let pool = self.pool_for_next().then_some(&self.pool);
                Some(prepare(batch, number, &self.genesis, &*clock, pool, false))
            }
        }
    }

    /// Validates and stores the batch; returns the new block's header, or
    /// `None` when every transaction was refused (no empty blocks).
    /// Refused submitters are answered here; committed ones are pushed to
    /// `committed` for the caller to answer after the outcome is known.
    /// Just before the commit (fsync), the requests queued meanwhile are
    /// started on the pool as the next batch, returned in `ahead`.
    fn execute_batch(
        &mut self,
        prepared: Prepared,
        committed: &mut Vec<(Reply, Transaction)>,
        queue: &Receiver<Request>,
        ahead: &mut Option<Prepared>,
    ) -> Result<Option<BlockHeader>, LedgerError> {
        let Prepared {
            number,
            replies,
            jobs,
            running,
            written_before,
        } = prepared;
        let during = format!("writing block {number}");
        // Results are taken in batch order as they arrive, so committing
        // overlaps execution. The write transaction does not disturb the
        // runs: WAL readers see only committed state.
        let mut speculative = running;
        let sql = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| LedgerError::storage(&during, e))?;
        // Keys written since the runs' snapshot: by the block committed while
        // they ran, then by the transactions committed so far in this batch.
        let mut written = written_before;
        let (ran_parallel, size) = (speculative.is_some(), jobs.len());
        let mut conflicted = 0;
        for ((seq, reply), job) in replies.into_iter().zip(jobs.iter()) {
            let index = u32::try_from(committed.len()).unwrap_or(u32::MAX);
            let recorded = speculative.as_mut().and_then(|r| r.take(seq as usize));
            let result = match recorded {
                Some(run)
                    if !matches!(run.result, Err(LedgerError::Storage { .. }))
                        && !run.reads.conflicts(&written) =>
                {
                    self.stats.parallel.fetch_add(1, Ordering::Relaxed);
                    run.result
                }
                recorded => {
                    if recorded.is_some_and(|run| run.reads.conflicts(&written)) {
                        self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                        conflicted += 1;
                    }
                    self.stats.serial.fetch_add(1, Ordering::Relaxed);
                    execute(
                        &sql,
                        &*self.chaincode,
                        Call::new(&job.tx_id, job.timestamp, &job.function, &job.args),
                    )
                }
            };
            match result {
                Ok(done) => {
                    let tx = Transaction {
                        tx_id: job.tx_id.clone(),
                        seq,
                        timestamp: job.timestamp,
                        function: job.function.clone(),
                        args: job.args.clone(),
                        status: 200,
                        payload: done.payload,
                        writes: done.writes,
                        event: done.event,
                    };
                    store::apply_tx(&sql, number, index, &tx)
                        .map_err(|e| LedgerError::storage(&during, e))?;
                    written.extend(tx.writes.iter().map(|w| w.key.clone()));
                    committed.push((reply, tx));
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            }
        }
        if ran_parallel && size > 1 && conflicted * 2 > size {
            self.contended = CONTENDED_BATCHES;
        }
        if committed.is_empty() {
            return Ok(None);
        }
        let txs: Vec<Transaction> = committed.iter().map(|(_, tx)| tx.clone()).collect();
        let header = BlockHeader {
            number,
            previous_hash: self.head,
            data_hash: data_hash(&txs),
            timestamp: self.clock.now(),
        };
        store::insert_block(&sql, &header, &txs).map_err(|e| LedgerError::storage(&during, e))?;
        // Run ahead: whatever reads the next batch makes (before or after
        // this commit), validating it against `written` keeps it serial.
        // (Not while contended: the next batch would only run serially.)
        let next = if self.contended == 0 {
            drain(None, queue, self.max_batch)
        } else {
            Vec::new()
        };
        if !next.is_empty() {
            let (genesis, clock) = (&self.genesis, &*self.clock);
            let mut next = prepare(next, number + 1, genesis, clock, Some(&self.pool), true);
            next.written_before = written;
            self.stats.ran_ahead.fetch_add(1, Ordering::Relaxed);
            *ahead = Some(next);
        }
        sql.commit()
            .map_err(|e| LedgerError::storage(format!("committing block {number}"), e))?;
        Ok(Some(header))
    }
}
