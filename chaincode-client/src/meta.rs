//! Transaction metadata for audit trails: who did what, when, in which
//! block, and whether it took effect — never a statement's payload, a
//! record, a result or a write set.
//!
//! Both backends read the same facts from a block: the embedded one from its
//! stored [`Transaction`](crate::Transaction)s, a Fabric one from QSCC
//! `GetBlockByNumber` (channel header tx id and timestamp, the chaincode
//! proposal's function and arguments, and the block metadata's
//! `TRANSACTIONS_FILTER` validation code). [`TxMeta::describe`] turns the
//! function and arguments into the action and its signer the same way for
//! both, by reading only the signed statement's claims.

use carechain_chaincode::Timestamp;
use carechain_core::statement::Statement;

/// The audit facts of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxMeta {
    /// The number of the block holding it.
    pub block: u64,
    /// Its id.
    pub tx_id: String,
    /// The time the ledger (Fabric: the submitting client) stamped it with.
    pub timestamp: Timestamp,
    /// The actor id of the statement's signer, when the call carries a statement.
    pub creator: Option<String>,
    /// The statement's action kind (`grant`, `write_record`, …), `init`, or
    /// the contract function for calls without a statement.
    pub action: String,
    /// Whether the transaction took effect (Fabric: validation code `VALID`).
    pub valid: bool,
    /// Why it did not take effect (Fabric's validation code, e.g.
    /// `MVCC_READ_CONFLICT`); `None` when valid.
    pub error_code: Option<String>,
}

impl TxMeta {
    /// The action and signer of a call to `function` with `args`, from the
    /// signed statement's claims only (the signature was checked by the
    /// contract when the transaction ran; the payload is not looked at).
    pub fn describe(function: &str, args: &[Vec<u8>]) -> (String, Option<String>) {
        let token = match function {
            "submit" => args.first(),
            "init" => args.get(1),
            other => return (other.to_owned(), None),
        };
        let claims = token
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| Statement::peek(t).ok());
        match claims {
            Some(s) if function == "init" => ("init".into(), Some(s.iss.to_string())),
            Some(s) => (s.act.kind().to_owned(), Some(s.iss.to_string())),
            None => (function.to_owned(), None),
        }
    }
}
