//! The single writer thread: group commit.
//!
//! It blocks for one submission, then drains every submission already queued
//! (up to `max_batch`), executes them in order inside one SQLite transaction —
//! each transaction's writes are applied before the next executes, so each
//! sees its predecessors (serial execution) — appends one block for the batch,
//! commits (the WAL is fsync'd), and only then answers the submitters. While
//! it waits on fsync new submissions queue up and form the next block, so
//! blocks grow with load and an idle ledger answers a lone submission at once.

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use carechain_chaincode::Chaincode;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{oneshot, watch};

use super::Clock;
use super::block::{BlockHeader, Hash, Transaction, data_hash, tx_id};
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
        let sql = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| LedgerError::storage(&during, e))?;
        for Request { proposal, reply } in batch {
            let index = u32::try_from(committed.len()).unwrap_or(u32::MAX);
            let Proposal { function, args } = proposal;
            let id = tx_id(&self.genesis, number, index, &function, &args);
            let timestamp = self.clock.now();
            match execute(&sql, &*self.chaincode, &id, timestamp, &function, &args) {
                Ok(done) => {
                    let tx = Transaction {
                        tx_id: id,
                        timestamp,
                        function,
                        args,
                        status: 200,
                        payload: done.payload,
                        writes: done.writes,
                        event: done.event,
                    };
                    store::apply_tx(&sql, number, index, &tx)
                        .map_err(|e| LedgerError::storage(&during, e))?;
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
