//! [`Ledger::transactions`](crate::Ledger::transactions) and
//! [`Ledger::transaction`](crate::Ledger::transaction) for the embedded
//! backend: the metadata of the stored transactions of a range of blocks,
//! and one stored transaction found through the history of a key it wrote.
//!
//! Every stored transaction is valid: a refused submission writes nothing and
//! is never put in a block (see the module docs of `embedded`), so there is
//! no invalid transaction to report, unlike Fabric's.

use rusqlite::params;

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
    let Some(prefix) = store::tx_prefix(tx_id) else {
        return Ok(None);
    };
    shared.readers.with(|conn| {
        let looking = |e| LedgerError::storage(format!("looking up transaction {tx_id}"), e);
        let candidates: Vec<(u64, u64)> = conn
            .prepare_cached("SELECT block, tx FROM txs WHERE prefix = ?1 AND block < ?2")
            .and_then(|mut s| {
                s.query_map(
                    params![prefix, i64::try_from(height).unwrap_or(i64::MAX)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
                .collect()
            })
            .map_err(looking)?;
        // Ids sharing their first 8 bytes are told apart by the full id.
        let mut found = None;
        for (number, index) in candidates {
            let block = store::block(conn, number)?.ok_or_else(|| LedgerError::Corrupt {
                block: number,
                what: format!("expected the block of transaction {tx_id}, found none"),
            })?;
            let tx = usize::try_from(index)
                .ok()
                .and_then(|i| block.transactions.into_iter().nth(i))
                .ok_or_else(|| LedgerError::Corrupt {
                    block: number,
                    what: format!("expected a transaction at index {index}, found none"),
                })?;
            if tx.tx_id == tx_id {
                found = Some((number, tx));
                break;
            }
        }
        let Some((number, tx)) = found else {
            return Ok(None);
        };
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
