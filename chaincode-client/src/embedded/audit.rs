//! [`Ledger::transactions`](crate::Ledger::transactions) and
//! [`Ledger::transaction`](crate::Ledger::transaction) for the embedded
//! backend: the metadata of the stored transactions of a range of blocks,
//! and one stored transaction found through the history of a key it wrote.
//!
//! Every stored transaction is valid: a refused submission writes nothing and
//! is never put in a block (see the module docs of `embedded`), so there is
//! no invalid transaction to report, unlike Fabric's.

use rusqlite::OptionalExtension as _;

use super::{Shared, store};
use crate::{Committed, CommittedTx, LedgerError, Proposal, TxMeta};

/// The metadata of the transactions of blocks `[from, to)`, in commit order
/// (blocking read; every block is checked against its stored hashes).
pub(crate) fn transactions(
    shared: &Shared,
    from: u64,
    to: u64,
) -> Result<Vec<TxMeta>, LedgerError> {
    shared.readers.with(|conn| {
        let mut out = Vec::new();
        for n in from..to {
            let block = store::block(conn, n)?.ok_or_else(|| LedgerError::Corrupt {
                block: n,
                what: "expected a block below the height, found none".into(),
            })?;
            out.extend(block.transactions.into_iter().map(|tx| {
                let (action, creator) = TxMeta::describe(&tx.function, &tx.args);
                TxMeta {
                    block: n,
                    tx_id: tx.tx_id,
                    timestamp: tx.timestamp,
                    creator,
                    action,
                    valid: true,
                    error_code: None,
                }
            }));
        }
        Ok(out)
    })
}

/// Transaction `tx_id`, if it is in a block below `height` (blocking read;
/// the block is checked against its stored hashes).
pub(crate) fn transaction(
    shared: &Shared,
    tx_id: &str,
    height: u64,
) -> Result<Option<CommittedTx>, LedgerError> {
    shared.readers.with(|conn| {
        let at: Option<(u64, u64)> = conn
            .prepare_cached("SELECT block, tx FROM txs WHERE tx_id = ?1")
            .and_then(|mut s| {
                s.query_row([tx_id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| LedgerError::storage(format!("looking up transaction {tx_id}"), e))?;
        let Some((number, index)) = at.filter(|(block, _)| *block < height) else {
            return Ok(None);
        };
        let block = store::block(conn, number)?.ok_or_else(|| LedgerError::Corrupt {
            block: number,
            what: format!("expected the block of transaction {tx_id}, found none"),
        })?;
        let tx = usize::try_from(index)
            .ok()
            .and_then(|i| block.transactions.into_iter().nth(i))
            .filter(|tx| tx.tx_id == tx_id)
            .ok_or_else(|| LedgerError::Corrupt {
                block: number,
                what: format!(
                    "expected transaction {tx_id} at index {index}, found another or none"
                ),
            })?;
        Ok(Some(CommittedTx {
            proposal: Proposal {
                function: tx.function,
                args: tx.args,
            },
            committed: Committed {
                tx_id: tx.tx_id,
                block: number,
                payload: tx.payload,
            },
        }))
    })
}
