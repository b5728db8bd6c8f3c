//! What the orderer checks when a transaction is broadcast (well-formed,
//! for this channel, signed by a channel writer) and what the committer
//! checks before applying it, with Fabric's validation codes:
//! `BAD_PAYLOAD`, `BAD_COMMON_HEADER`, `UNKNOWN_TX_TYPE`,
//! `TARGET_CHAIN_NOT_FOUND`, `BAD_CREATOR_SIGNATURE`, `BAD_PROPOSAL_TXID`,
//! `DUPLICATE_TXID`, `INVALID_ENDORSER_TRANSACTION` (malformed action or a
//! proposal hash that does not match), `INVALID_CHAINCODE`,
//! `ENDORSEMENT_POLICY_FAILURE` (the policy is "one valid endorsement by an
//! `Org1MSP.peer`", as the test network's majority of one org),
//! `BAD_RWSET`, `MVCC_READ_CONFLICT` and `PHANTOM_READ_CONFLICT`.

use carechain_fabric_protos::common::{
    self, ChannelHeader, Envelope, HeaderType, Payload, SignatureHeader,
};
use carechain_fabric_protos::kvrwset::{KvrwSet, range_query_info};
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEvent, ProposalResponsePayload, Transaction,
    TxValidationCode,
};
use carechain_fabric_protos::rwset::TxReadWriteSet;
use sha2::{Digest, Sha256};

use crate::ledger::{Checked, Ledger};
use crate::peer::QSCC;
use crate::pki::Msp;
use crate::proposal::compute_tx_id;

/// The orderer's refusal: a broadcast status and its info text.
pub(crate) type Refusal = (common::Status, String);

/// The writers policy failure text of Fabric's implicit meta policy.
pub(crate) fn policy_failure(policy: &str) -> String {
    format!(
        "implicit policy evaluation failed - 0 sub-policies were satisfied, but this policy requires 1 of the '{policy}' sub-policies to be satisfied"
    )
}

struct Parsed {
    payload: Payload,
    header: common::Header,
    channel_header: ChannelHeader,
    signature_header: SignatureHeader,
}

fn parse(envelope: &Envelope) -> Result<Parsed, (TxValidationCode, String)> {
    let payload = Payload::decode(envelope.payload.as_slice())
        .map_err(|e| (TxValidationCode::BadPayload, format!("bad payload: {e}")))?;
    let header = payload.header.clone().ok_or((
        TxValidationCode::BadCommonHeader,
        "missing header".to_owned(),
    ))?;
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice()).map_err(|e| {
        (
            TxValidationCode::BadCommonHeader,
            format!("bad channel header: {e}"),
        )
    })?;
    let signature_header =
        SignatureHeader::decode(header.signature_header.as_slice()).map_err(|e| {
            (
                TxValidationCode::BadCommonHeader,
                format!("bad signature header: {e}"),
            )
        })?;
    Ok(Parsed {
        payload,
        header,
        channel_header,
        signature_header,
    })
}

/// The orderer's broadcast filters for a normal message on `channel`.
pub(crate) fn broadcast_check(
    msp: &Msp,
    channel: &str,
    envelope: &Envelope,
) -> Result<(), Refusal> {
    let bad = |info: String| (common::Status::BadRequest, info);
    let parsed = parse(envelope).map_err(|(_, info)| bad(info))?;
    if parsed.channel_header.channel_id != channel {
        return Err((
            common::Status::NotFound,
            format!("channel {} not found", parsed.channel_header.channel_id),
        ));
    }
    if parsed.channel_header.r#type != HeaderType::EndorserTransaction as i32 {
        return Err(bad(format!(
            "message type {} is not allowed on this channel",
            parsed.channel_header.r#type
        )));
    }
    msp.check(
        &parsed.signature_header.creator,
        &envelope.payload,
        &envelope.signature,
    )
    .map_err(|_| {
        (
            common::Status::Forbidden,
            format!("{}: permission denied", policy_failure("Writers")),
        )
    })
}

/// The committer's validation of one transaction against the committed ledger.
pub(crate) fn commit_check(
    ledger: &Ledger,
    msp: &Msp,
    channel: &str,
    chaincode: &str,
    bytes: &[u8],
) -> (TxValidationCode, Checked) {
    let mut checked = Checked::default();
    let code = check(ledger, msp, channel, chaincode, bytes, &mut checked)
        .err()
        .unwrap_or(TxValidationCode::Valid);
    (code, checked)
}

fn check(
    ledger: &Ledger,
    msp: &Msp,
    channel: &str,
    chaincode: &str,
    bytes: &[u8],
    checked: &mut Checked,
) -> Result<(), TxValidationCode> {
    use TxValidationCode as Code;
    let envelope = Envelope::decode(bytes).map_err(|_| Code::NilEnvelope)?;
    let parsed = parse(&envelope).map_err(|(code, _)| code)?;
    let ch = &parsed.channel_header;
    let sh = &parsed.signature_header;
    checked.tx_id.clone_from(&ch.tx_id);
    checked.timestamp = ch.timestamp;
    if ch.r#type != HeaderType::EndorserTransaction as i32 {
        return Err(Code::UnknownTxType);
    }
    if ch.channel_id != channel {
        return Err(Code::TargetChainNotFound);
    }
    msp.check(&sh.creator, &envelope.payload, &envelope.signature)
        .map_err(|_| Code::BadCreatorSignature)?;
    if sh.nonce.is_empty() || ch.tx_id != compute_tx_id(&sh.nonce, &sh.creator) {
        return Err(Code::BadProposalTxid);
    }
    if ledger.status(&ch.tx_id).is_some() {
        // Not indexed again: the first commit of the id stays the answer.
        checked.tx_id.clear();
        return Err(Code::DuplicateTxid);
    }
    let tx = Transaction::decode(parsed.payload.data.as_slice()).map_err(|_| Code::BadPayload)?;
    let [action] = tx.actions.as_slice() else {
        return Err(Code::InvalidEndorserTransaction);
    };
    if action.header != parsed.header.signature_header {
        return Err(Code::InvalidEndorserTransaction);
    }
    let cap = ChaincodeActionPayload::decode(action.payload.as_slice())
        .map_err(|_| Code::InvalidEndorserTransaction)?;
    let endorsed = cap.action.ok_or(Code::InvalidEndorserTransaction)?;
    let prp = ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice())
        .map_err(|_| Code::InvalidEndorserTransaction)?;
    let mut hasher = Sha256::new();
    hasher.update(&parsed.header.channel_header);
    hasher.update(&parsed.header.signature_header);
    hasher.update(&cap.chaincode_proposal_payload);
    if hasher.finalize().as_slice() != prp.proposal_hash.as_slice() {
        return Err(Code::InvalidEndorserTransaction);
    }
    let cc_action =
        ChaincodeAction::decode(prp.extension.as_slice()).map_err(|_| Code::BadResponsePayload)?;
    let name = cc_action.chaincode_id.as_ref().map(|id| id.name.as_str());
    if name != Some(chaincode) && name != Some(QSCC) {
        return Err(Code::InvalidChaincode);
    }
    let endorsed_by_peer = endorsed.endorsements.iter().any(|e| {
        let mut message = endorsed.proposal_response_payload.clone();
        message.extend_from_slice(&e.endorser);
        msp.deserialize(&e.endorser)
            .is_ok_and(|cert| Msp::has_role(&cert, "peer"))
            && msp.check(&e.endorser, &message, &e.signature).is_ok()
    });
    if !endorsed_by_peer {
        return Err(Code::EndorsementPolicyFailure);
    }
    if !cc_action.results.is_empty() {
        let rwset =
            TxReadWriteSet::decode(cc_action.results.as_slice()).map_err(|_| Code::BadRwset)?;
        for ns in rwset.ns_rwset {
            let kv = KvrwSet::decode(ns.rwset.as_slice()).map_err(|_| Code::BadRwset)?;
            if !ledger.reads_hold(&ns.namespace, &kv.reads) {
                return Err(Code::MvccReadConflict);
            }
            for range in &kv.range_queries_info {
                let reads = match &range.reads_info {
                    Some(range_query_info::ReadsInfo::RawReads(r)) => r.kv_reads.as_slice(),
                    _ => &[],
                };
                let bounds = (range.start_key.as_str(), range.end_key.as_str());
                if !ledger.range_holds(&ns.namespace, bounds, reads, range.itr_exhausted) {
                    return Err(Code::PhantomReadConflict);
                }
            }
            checked.writes.push((ns.namespace, kv.writes));
        }
    }
    if !cc_action.events.is_empty() {
        let event =
            ChaincodeEvent::decode(cc_action.events.as_slice()).map_err(|_| Code::BadPayload)?;
        checked.event = Some(event);
    }
    Ok(())
}
