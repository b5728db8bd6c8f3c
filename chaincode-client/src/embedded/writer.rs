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
//! order, which `verify` replays. It appends one block, commits (the WAL is
//! fsync'd), and only then answers the submitters. While it waits on fsync
//! new submissions queue up and form the next block, so blocks grow with
//! load and an idle ledger answers a lone submission at once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;

use carechain_chaincode::Chaincode;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{oneshot, watch};

use super::Clock;
use super::block::{BlockHeader, Hash, Transaction, data_hash, tx_id};
use super::parallel::{Job, Pool};
use super::store;
use super::stub::execute;
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
    pub(crate) height: watch::Sender<u64>,
    pub(crate) pool: Pool,
    pub(crate) stats: Arc<Counters>,
}

/// How the writer's transactions were executed, since the ledger opened.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Results taken from a parallel run.
    pub(crate) parallel: AtomicU64,
    /// Transactions run serially: conflicting, lone, or not answered by the pool.
    pub(crate) serial: AtomicU64,
    /// Of those, the ones re-executed because of a conflict within the batch.
    pub(crate) conflicts: AtomicU64,
}

impl Writer {
    /// Serves submissions until every sender is dropped.
    pub(crate) fn run(mut self, queue: Receiver<Request>) {
        while let Ok(first) = queue.recv() {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match queue.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
    }

    fn commit_batch(&mut self, batch: Vec<Request>) {
        let number = self.next_block;
        let mut committed = Vec::with_capacity(batch.len());
        let result = self.execute_batch(number, batch, &mut committed);
        match result {
            Ok(Some(header)) => {
                self.next_block = number + 1;
                self.head = header.hash();
                self.height.send_replace(self.next_block);
                for (reply, tx) in committed {
                    // A submitter that stopped waiting is no error of ours.
                    let _ = reply.send(Ok(Committed {
                        tx_id: tx.tx_id,
                        block: number,
                        payload: tx.payload,
                    }));
                }
            }
            Ok(None) => {}
            Err(e) => {
                let message = e.to_string();
                for (reply, _) in committed {
                    let _ = reply.send(Err(LedgerError::storage(
                        format!("committing block {number}"),
                        std::io::Error::other(message.clone()),
                    )));
                }
            }
        }
    }

    /// Executes and stores the batch; returns the new block's header, or
    /// `None` when every transaction was refused (no empty blocks).
    /// Refused submitters are answered here; committed ones are pushed to
    /// `committed` for the caller to answer after the outcome is known.
    fn execute_batch(
        &mut self,
        number: u64,
        batch: Vec<Request>,
        committed: &mut Vec<(oneshot::Sender<Result<Committed, LedgerError>>, Transaction)>,
    ) -> Result<Option<BlockHeader>, LedgerError> {
        let during = format!("writing block {number}");
        let mut replies = Vec::with_capacity(batch.len());
        let mut jobs = Vec::with_capacity(batch.len());
        for (seq, Request { proposal, reply }) in batch.into_iter().enumerate() {
            // `max_batch` is capped far below u32::MAX.
            let seq = u32::try_from(seq).unwrap_or(u32::MAX);
            let Proposal { function, args } = proposal;
            jobs.push(Job {
                tx_id: tx_id(&self.genesis, number, seq, &function, &args),
                timestamp: self.clock.now(),
                function,
                args,
            });
            replies.push((seq, reply));
        }
        let jobs = Arc::new(jobs);
        let mut speculative = if jobs.len() > 1 && self.pool.size() > 0 {
            self.pool.run_all(&jobs)
        } else {
            Vec::new()
        };
        let sql = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| LedgerError::storage(&during, e))?;
        // Keys written by the transactions committed so far in this batch.
        let mut written = BTreeSet::new();
        for ((seq, reply), job) in replies.into_iter().zip(jobs.iter()) {
            let index = u32::try_from(committed.len()).unwrap_or(u32::MAX);
            let recorded = speculative.get_mut(seq as usize).and_then(Option::take);
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
                    }
                    self.stats.serial.fetch_add(1, Ordering::Relaxed);
                    execute(
                        &sql,
                        &*self.chaincode,
                        &job.tx_id,
                        job.timestamp,
                        &job.function,
                        &job.args,
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
        sql.commit()
            .map_err(|e| LedgerError::storage(format!("committing block {number}"), e))?;
        Ok(Some(header))
    }
}
