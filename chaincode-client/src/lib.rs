//! CareChain ledger client: one [`Ledger`] trait over which the relay submits
//! transactions to the contract, evaluates queries and follows contract events.
//!
//! The trait is shaped after the Hyperledger Fabric Gateway API so a Fabric
//! backend fits later without changing it: [`Ledger::evaluate`] is Gateway
//! `Evaluate`; [`Ledger::submit`] is `Endorse` → `Submit` → `CommitStatus`
//! and returns only once the transaction is durable; [`Ledger::events`] is
//! `ChaincodeEvents` with a start block, so a subscriber resumes from the
//! last block it processed; [`Ledger::transactions`] is QSCC
//! `GetBlockByNumber` reduced to audit metadata; [`Ledger::transaction`] is
//! QSCC `GetBlockByTxID` reduced to one transaction's proposal and result.
//!
//! The [`embedded`] backend (the default, one machine) runs the contract
//! in-process against a SQLite store: hash-chained blocks, world state with
//! versions, key history and events, with concurrent submissions batched into
//! one block per fsync (group commit), a batch's transactions executed in
//! parallel and validated serially, and a [`verify`](embedded::verify())
//! that replays the chain through the contract. See the module docs for the
//! block format, the hash scheme and why SQLite rather than redb.

use async_trait::async_trait;
use futures::stream::BoxStream;

pub mod embedded;
mod error;
#[cfg(feature = "fabric")]
pub mod fabric;
mod meta;

pub use carechain_chaincode::{Chaincode, ChaincodeError, Timestamp};
pub use embedded::{
    Block, BlockHeader, Clock, EmbeddedLedger, EmbeddedOptions, ExecutionStats, FixedClock,
    SystemClock, Transaction, VerifyReport, Write, verify,
};
pub use error::LedgerError;
pub use meta::TxMeta;

/// A transaction proposal, Fabric style: the function name and its byte arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The contract function to run.
    pub function: String,
    /// The function's arguments, each an opaque byte string.
    pub args: Vec<Vec<u8>>,
}

impl Proposal {
    /// A proposal for `function` with `args`.
    pub fn new<A: Into<Vec<u8>>>(
        function: impl Into<String>,
        args: impl IntoIterator<Item = A>,
    ) -> Self {
        Self {
            function: function.into(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }
}

/// A transaction the ledger has committed durably.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The transaction id the ledger assigned.
    pub tx_id: String,
    /// The number of the block holding it.
    pub block: u64,
    /// The contract's result payload.
    pub payload: Vec<u8>,
}

/// A committed transaction looked up by id: the proposal it ran and what it committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedTx {
    /// The function and arguments the transaction ran.
    pub proposal: Proposal,
    /// Its id, block and the contract's result payload.
    pub committed: Committed,
}

/// An event a committed transaction emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChaincodeEvent {
    /// The block holding the transaction.
    pub block: u64,
    /// The transaction that emitted it.
    pub tx_id: String,
    /// The event name the contract chose.
    pub name: String,
    /// The event payload.
    pub payload: Vec<u8>,
}

/// A ledger the relay talks to; object safe, so it can be held as `Arc<dyn Ledger>`.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Runs `proposal` as a transaction and returns once it is durably committed.
    async fn submit(&self, proposal: Proposal) -> Result<Committed, LedgerError>;
    /// Runs `proposal` read-only against the committed state; nothing is recorded.
    async fn evaluate(&self, proposal: Proposal) -> Result<Vec<u8>, LedgerError>;
    /// Every event of blocks `>= from_block` in commit order, then live ones as
    /// blocks commit; ends when the ledger shuts down.
    fn events(&self, from_block: u64) -> BoxStream<'static, Result<ChaincodeEvent, LedgerError>>;
    /// The number of committed blocks (the next block's number).
    async fn height(&self) -> Result<u64, LedgerError>;
    /// The audit metadata ([`TxMeta`]) of every transaction in blocks
    /// `from_block .. from_block + max_blocks` below the height, in commit
    /// order; never payloads or record data. Fabric: QSCC `GetBlockByNumber`
    /// per block.
    async fn transactions(
        &self,
        from_block: u64,
        max_blocks: u64,
    ) -> Result<Vec<TxMeta>, LedgerError>;
    /// The valid committed transaction `tx_id`, with the proposal it ran;
    /// `None` when the ledger holds no such transaction. Fabric: QSCC
    /// `GetBlockByTxID`; the embedded ledger: its `txs` index (tx id → block,
    /// position), one row per committed transaction.
    async fn transaction(&self, tx_id: &str) -> Result<Option<CommittedTx>, LedgerError>;
}
