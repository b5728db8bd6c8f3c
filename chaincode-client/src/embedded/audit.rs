//! [`Ledger::transactions`](crate::Ledger::transactions) for the embedded
//! backend: the metadata of the stored transactions of a range of blocks.
//!
//! Every stored transaction is valid: a refused submission writes nothing and
//! is never put in a block (see the module docs of `embedded`), so there is
//! no invalid transaction to report, unlike Fabric's.

use super::{Shared, store};
use crate::{LedgerError, TxMeta};

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
