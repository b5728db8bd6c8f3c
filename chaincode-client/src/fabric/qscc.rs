//! The chain's height and audit metadata from the peer's query system
//! chaincode (QSCC), evaluated through the Gateway like any proposal:
//! `GetChainInfo(channel)` gives a `common.BlockchainInfo`, and
//! `GetBlockByNumber(channel, n)` a `common.Block` whose transactions are
//! read down to the facts of a [`TxMeta`]: the channel header's tx id and
//! timestamp, the creator's statement in the chaincode input, and the
//! block's `TRANSACTIONS_FILTER` validation code. Blocks other than this
//! chaincode's endorser transactions (the channel's config blocks, other
//! chaincodes) contribute nothing.

use carechain_chaincode::Timestamp;
use carechain_fabric_protos::common::{
    self, BlockMetadataIndex, BlockchainInfo, ChannelHeader, HeaderType,
};
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::{
    ChaincodeActionPayload, ChaincodeHeaderExtension, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, Transaction, TxValidationCode,
};

use super::gateway::{FabricLedger, malformed};
use crate::{LedgerError, TxMeta};

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

/// The audit facts of `chaincode`'s transactions in `block` (numbered `number`).
pub fn block_transactions(block: &common::Block, number: u64, chaincode: &str) -> Vec<TxMeta> {
    let filter = block
        .metadata
        .as_ref()
        .and_then(|m| {
            m.metadata
                .get(BlockMetadataIndex::TransactionsFilter as usize)
        })
        .cloned()
        .unwrap_or_default();
    let envelopes = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or_default();
    envelopes
        .iter()
        .enumerate()
        .filter_map(|(index, envelope)| {
            let code = filter
                .get(index)
                .copied()
                .map_or(TxValidationCode::Valid as i32, i32::from);
            describe(envelope, number, code, chaincode)
        })
        .collect()
}

/// One envelope's [`TxMeta`], if it is an endorser transaction of `chaincode`.
fn describe(envelope: &[u8], block: u64, code: i32, chaincode: &str) -> Option<TxMeta> {
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
    let args: Vec<Vec<u8>> = args.collect();
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
