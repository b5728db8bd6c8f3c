//! The chain's height, audit metadata and committed transactions from the
//! peer's query system chaincode (QSCC), evaluated through the Gateway like
//! any proposal: `GetChainInfo(channel)` gives a `common.BlockchainInfo`,
//! `GetBlockByNumber(channel, n)` a `common.Block` whose transactions are
//! read down to the facts of a [`TxMeta`]: the channel header's tx id and
//! timestamp, the creator's statement in the chaincode input, and the
//! block's `TRANSACTIONS_FILTER` validation code. Blocks other than this
//! chaincode's endorser transactions (the channel's config blocks, other
//! chaincodes) contribute nothing.
//!
//! `GetBlockByTxID(channel, tx_id)` gives the block holding a transaction,
//! read down to a [`CommittedTx`]: the proposal's function and arguments and
//! the chaincode's response payload in the endorsed action, for a valid
//! transaction of this chaincode only. The peer's "not in the index" answer
//! (Fabric 1.4 `Entry not found in index`, 2.x `no such transaction ID [id]
//! in index`) means the ledger holds no such transaction.

use carechain_chaincode::Timestamp;
use carechain_fabric_protos::common::{
    self, BlockMetadataIndex, BlockchainInfo, ChannelHeader, HeaderType,
};
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeHeaderExtension, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ProposalResponsePayload, Transaction, TxValidationCode,
};

use super::gateway::{FabricLedger, malformed};
use crate::{Committed, CommittedTx, LedgerError, Proposal, TxMeta};

/// The system chaincode's name.
const QSCC: &str = "qscc";

/// The number of blocks on the channel.
pub(super) async fn height(ledger: &FabricLedger) -> Result<u64, LedgerError> {
    let channel = ledger.config().channel.clone();
    let prepared = ledger
        .inner()
        .prepare(QSCC, "GetChainInfo", &[channel.into_bytes()]);
    let bytes = ledger.evaluate_prepared(prepared).await?;
    let info = BlockchainInfo::decode(bytes.as_slice())
        .map_err(|_| malformed("Evaluate", "an undecodable BlockchainInfo from qscc"))?;
    Ok(info.height)
}

/// The [`TxMeta`] of this chaincode's transactions in blocks
/// `from_block .. from_block + max_blocks` below the height.
pub(super) async fn transactions(
    ledger: &FabricLedger,
    from_block: u64,
    max_blocks: u64,
) -> Result<Vec<TxMeta>, LedgerError> {
    let to = height(ledger)
        .await?
        .min(from_block.saturating_add(max_blocks));
    let channel = ledger.config().channel.clone();
    let mut metas = Vec::new();
    for number in from_block..to {
        let args = [
            channel.clone().into_bytes(),
            number.to_string().into_bytes(),
        ];
        let prepared = ledger.inner().prepare(QSCC, "GetBlockByNumber", &args);
        let bytes = ledger.evaluate_prepared(prepared).await?;
        let block = common::Block::decode(bytes.as_slice())
            .map_err(|_| malformed("Evaluate", "an undecodable Block from qscc"))?;
        metas.extend(block_transactions(
            &block,
            number,
            &ledger.config().chaincode,
        ));
    }
    Ok(metas)
}

/// The valid transaction `tx_id` of this chaincode with its proposal, or
/// `None` when the peer holds no such transaction.
pub(super) async fn transaction(
    ledger: &FabricLedger,
    tx_id: &str,
) -> Result<Option<CommittedTx>, LedgerError> {
    let args = [
        ledger.config().channel.clone().into_bytes(),
        tx_id.as_bytes().to_vec(),
    ];
    let prepared = ledger.inner().prepare(QSCC, "GetBlockByTxID", &args);
    let bytes = match ledger.evaluate_prepared(prepared).await {
        Ok(bytes) => bytes,
        Err(e) if not_in_index(&e, tx_id) => return Ok(None),
        Err(e) => return Err(e),
    };
    let block = common::Block::decode(bytes.as_slice())
        .map_err(|_| malformed("Evaluate", "an undecodable Block from qscc"))?;
    let number = block
        .header
        .as_ref()
        .ok_or_else(|| malformed("Evaluate", "a Block from qscc without a header"))?
        .number;
    let chaincode = &ledger.config().chaincode;
    let Some(tx) = envelopes(&block)
        .filter(|(_, code)| *code == TxValidationCode::Valid as i32)
        .filter_map(|(envelope, _)| endorser_tx(envelope, chaincode))
        .find(|tx| tx.channel.tx_id == tx_id)
    else {
        return Ok(None);
    };
    let payload = tx.response_payload().ok_or_else(|| {
        malformed(
            "Evaluate",
            &format!(
                "transaction {tx_id} in block {number} without a decodable chaincode response"
            ),
        )
    })?;
    Ok(Some(CommittedTx {
        proposal: Proposal {
            function: tx.function,
            args: tx.args,
        },
        committed: Committed {
            tx_id: tx.channel.tx_id,
            block: number,
            payload,
        },
    }))
}

/// Whether `error` is QSCC's answer that `tx_id` is not in the peer's
/// transaction index: a chaincode error 500 saying `Entry not found in
/// index` (Fabric 1.4, the test peer) or `no such transaction ID [tx_id] in
/// index` (Fabric 2.x and 3.x block store).
fn not_in_index(error: &LedgerError, tx_id: &str) -> bool {
    match error {
        LedgerError::Refused {
            status: 500,
            message,
            ..
        } => {
            message.contains("Entry not found in index")
                || message.contains(&format!("no such transaction ID [{tx_id}] in index"))
        }
        _ => false,
    }
}

/// The audit facts of `chaincode`'s transactions in `block` (numbered `number`).
pub fn block_transactions(block: &common::Block, number: u64, chaincode: &str) -> Vec<TxMeta> {
    envelopes(block)
        .filter_map(|(envelope, code)| describe(envelope, number, code, chaincode))
        .collect()
}

/// Each envelope of `block` with its `TRANSACTIONS_FILTER` validation code
/// (valid when the filter does not cover it).
fn envelopes(block: &common::Block) -> impl Iterator<Item = (&[u8], i32)> {
    let filter = block
        .metadata
        .as_ref()
        .and_then(|m| {
            m.metadata
                .get(BlockMetadataIndex::TransactionsFilter as usize)
        })
        .map(Vec::as_slice)
        .unwrap_or_default();
    block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(move |(index, envelope)| {
            let code = filter
                .get(index)
                .copied()
                .map_or(TxValidationCode::Valid as i32, i32::from);
            (envelope.as_slice(), code)
        })
}

/// An endorser transaction of one chaincode, read from its envelope.
struct EndorserTx {
    /// The channel header: tx id and timestamp.
    channel: ChannelHeader,
    /// The first action: the proposal payload and the endorsed action.
    action: ChaincodeActionPayload,
    /// The chaincode function, the input's first argument.
    function: String,
    /// The input's other arguments.
    args: Vec<Vec<u8>>,
}

impl EndorserTx {
    /// The chaincode's response payload in the endorsed action.
    fn response_payload(&self) -> Option<Vec<u8>> {
        let endorsed = self.action.action.as_ref()?;
        let response =
            ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice()).ok()?;
        let action = ChaincodeAction::decode(response.extension.as_slice()).ok()?;
        Some(action.response.map(|r| r.payload).unwrap_or_default())
    }
}

/// `envelope` as an endorser transaction of `chaincode`, if it is one.
fn endorser_tx(envelope: &[u8], chaincode: &str) -> Option<EndorserTx> {
    let envelope = common::Envelope::decode(envelope).ok()?;
    let payload = common::Payload::decode(envelope.payload.as_slice()).ok()?;
    let header = payload.header?;
    let channel = ChannelHeader::decode(header.channel_header.as_slice()).ok()?;
    if channel.r#type != HeaderType::EndorserTransaction as i32 {
        return None;
    }
    let extension = ChaincodeHeaderExtension::decode(channel.extension.as_slice()).ok()?;
    if extension.chaincode_id?.name != chaincode {
        return None;
    }
    let transaction = Transaction::decode(payload.data.as_slice()).ok()?;
    let action =
        ChaincodeActionPayload::decode(transaction.actions.first()?.payload.as_slice()).ok()?;
    let proposal =
        ChaincodeProposalPayload::decode(action.chaincode_proposal_payload.as_slice()).ok()?;
    let spec = ChaincodeInvocationSpec::decode(proposal.input.as_slice()).ok()?;
    let mut args = spec.chaincode_spec?.input?.args.into_iter();
    let function = String::from_utf8(args.next()?).ok()?;
    Some(EndorserTx {
        channel,
        action,
        function,
        args: args.collect(),
    })
}

/// One envelope's [`TxMeta`], if it is an endorser transaction of `chaincode`.
fn describe(envelope: &[u8], block: u64, code: i32, chaincode: &str) -> Option<TxMeta> {
    let EndorserTx {
        channel,
        function,
        args,
        ..
    } = endorser_tx(envelope, chaincode)?;
    let (action, creator) = TxMeta::describe(&function, &args);
    let timestamp = channel.timestamp.unwrap_or_default();
    let valid = code == TxValidationCode::Valid as i32;
    Some(TxMeta {
        block,
        tx_id: channel.tx_id,
        timestamp: Timestamp {
            seconds: timestamp.seconds,
            nanos: timestamp.nanos,
        },
        creator,
        action,
        valid,
        error_code: (!valid).then(|| {
            TxValidationCode::try_from(code)
                .map(|c| c.as_str_name().to_owned())
                .unwrap_or_else(|_| format!("validation code {code}"))
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::not_in_index;
    use crate::LedgerError;

    fn refused(status: u16, message: &str) -> LedgerError {
        LedgerError::Refused {
            status,
            code: "chaincode_error".into(),
            message: message.into(),
        }
    }

    #[test]
    fn only_the_index_miss_of_qscc_is_an_unknown_transaction() {
        let id = "ab12";
        assert!(not_in_index(
            &refused(
                500,
                "Failed to get block for txID ab12, error Entry not found in index"
            ),
            id
        ));
        assert!(not_in_index(
            &refused(
                500,
                "Failed to get block for txID ab12, error no such transaction ID [ab12] in index"
            ),
            id
        ));
        assert!(!not_in_index(
            &refused(500, "Invalid chain ID, otherchannel"),
            id
        ));
        assert!(!not_in_index(&refused(404, "Entry not found in index"), id));
        assert!(!not_in_index(
            &LedgerError::Unavailable("Entry not found in index".into()),
            id
        ));
    }
}
