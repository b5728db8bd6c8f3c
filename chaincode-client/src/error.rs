//! The one error type every [`Ledger`](crate::Ledger) backend returns.

use carechain_chaincode::ChaincodeError;

/// Why a ledger operation did not give the caller what it asked for.
///
/// Callers branch on the variant: `Refused` is the contract's answer and goes
/// back to the client as is; `Unavailable` and `NotCommitted` may be retried;
/// `Storage`, `Locked` and `Corrupt*` need an operator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The contract refused the transaction (its `ChaincodeError`, or a panic
    /// inside it reported as status 500); nothing was committed.
    #[error("contract refused the transaction ({status} {code}): {message}")]
    Refused {
        /// HTTP-like status chosen by the contract (500 for a contract panic).
        status: u16,
        /// The contract's stable machine-readable code.
        code: String,
        /// The contract's human-readable explanation.
        message: String,
    },
    /// The ledger cannot serve requests now (writer stopped, runtime shutting
    /// down, gateway unreachable); the transaction may or may not be retried.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// The endorsed transaction was not committed by ordering/validation
    /// (Fabric's `MVCC_READ_CONFLICT` and friends); never returned by the
    /// embedded backend, which re-executes a conflicting transaction
    /// instead of invalidating it.
    #[error("transaction {tx_id} not committed: validation code {validation_code}")]
    NotCommitted {
        /// The transaction's id.
        tx_id: String,
        /// The validation code the committing peer reported.
        validation_code: String,
    },
    /// A call to the ledger passed its deadline. For a submission the outcome
    /// is unknown: the transaction may still commit, so a retry must reuse its
    /// signed statement (the contract refuses the replayed nonce if it did,
    /// and the transaction that used it is found with `transaction`).
    #[error("the ledger did not answer {during} in time{}", tx_id.as_ref().map(|t| format!(" (transaction {t} may still commit)")).unwrap_or_default())]
    Timeout {
        /// The call that timed out, e.g. `CommitStatus`.
        during: String,
        /// The transaction, when one was already sent.
        tx_id: Option<String>,
    },
    /// The connection failed after the transaction was sent (a reset during
    /// `Submit` or `CommitStatus`): it may or may not commit. As with a
    /// timeout, a retry must reuse its signed statement.
    #[error(
        "the connection to the ledger failed during {during} ({reason}); transaction {tx_id} may still commit"
    )]
    Uncertain {
        /// The call that failed, e.g. `CommitStatus`.
        during: String,
        /// The transaction whose outcome is unknown.
        tx_id: String,
        /// What the transport reported.
        reason: String,
    },
    /// The Fabric gateway refused a call for a reason the contract did not
    /// give (malformed request, identity not allowed, unknown channel or
    /// chaincode); retrying will not help, an operator must look.
    #[error("the Fabric gateway refused {call} ({code}): {message}")]
    Gateway {
        /// The Gateway call, e.g. `Endorse`.
        call: &'static str,
        /// The gRPC status code.
        code: String,
        /// The gateway's message and error details.
        message: String,
    },
    /// The durable store failed (I/O error, disk full, locked database).
    #[error("storage failed while {during}: {source}")]
    Storage {
        /// What the ledger was doing, e.g. "committing block 7".
        during: String,
        /// The store's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored block does not match what it must be (broken hash link, wrong
    /// transaction hash, undecodable body, or a replayed transaction whose
    /// result differs from the stored one).
    #[error("block {block} is corrupt: {what}")]
    Corrupt {
        /// Number of the first block found bad.
        block: u64,
        /// What was expected and what was found.
        what: String,
    },
    /// A stored world-state, history or event row differs from what replaying
    /// the chain produces.
    #[error("stored {table} at key {key:?} does not match the replayed chain: {what}")]
    CorruptState {
        /// The table: `state`, `history` or `events`.
        table: &'static str,
        /// The state key (for `events`: the block number) of the first bad row.
        key: String,
        /// What was expected and what was found.
        what: String,
    },
    /// Another open ledger (in this process or another) holds the directory's lock.
    #[error(
        "the ledger directory {} is in use: expected no other open ledger on it, found its lock held (by this or another process). \
         The embedded ledger serves one relay; to run several relays, connect them all to one Fabric network (see docs/relays.md)",
        dir.display()
    )]
    Locked {
        /// The directory whose lock is held.
        dir: std::path::PathBuf,
    },
    /// A block past the chain head was asked for.
    #[error("no block {requested}: the chain has {height} blocks")]
    NoSuchBlock {
        /// The block number asked for.
        requested: u64,
        /// The current height (number of blocks).
        height: u64,
    },
}

impl LedgerError {
    /// A storage error with what the ledger was doing at the time.
    pub(crate) fn storage(
        during: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        LedgerError::Storage {
            during: during.into(),
            source: Box::new(source),
        }
    }
}

impl From<ChaincodeError> for LedgerError {
    fn from(e: ChaincodeError) -> Self {
        LedgerError::Refused {
            status: e.status,
            code: e.code,
            message: e.message,
        }
    }
}
