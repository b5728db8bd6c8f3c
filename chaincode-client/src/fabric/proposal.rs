//! The signed messages of the Gateway API, built as the official Gateway
//! clients build them: a proposal whose channel header is an
//! `ENDORSER_TRANSACTION` for the channel, with tx id
//! `hex(SHA-256(nonce ‖ creator))`, the chaincode id in the header extension
//! and `[function, args…]` as the chaincode input; the prepared envelope
//! signed over its payload; commit-status and event requests signed over
//! their bytes.

use carechain_fabric_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use carechain_fabric_protos::gateway::{
    ChaincodeEventsRequest, CommitStatusRequest, SignedChaincodeEventsRequest,
    SignedCommitStatusRequest,
};
use carechain_fabric_protos::orderer::{SeekPosition, SeekSpecified, seek_position};
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::prost_types::Timestamp;
use carechain_fabric_protos::protos::{
    ChaincodeHeaderExtension, ChaincodeId, ChaincodeInput, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ChaincodeSpec, Proposal, SignedProposal,
};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

use super::identity::FabricIdentity;

/// A proposal ready to send, with its transaction id.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// `hex(SHA-256(nonce ‖ creator))`.
    pub tx_id: String,
    /// The signed proposal.
    pub signed: SignedProposal,
}

/// The transaction id Fabric derives from a nonce and the creator.
pub fn tx_id(nonce: &[u8], creator: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(nonce);
    hash.update(creator);
    hex::encode(hash.finalize())
}

/// The system clock's time, as the protos carry it.
fn now() -> Timestamp {
    let now = carechain_chaincode::Timestamp::now();
    Timestamp {
        seconds: now.seconds,
        nanos: now.nanos,
    }
}

/// Builds and signs the proposal of `function(args)` on `chaincode` in `channel`.
pub fn proposal(
    identity: &FabricIdentity,
    channel: &str,
    chaincode: &str,
    function: &str,
    args: &[Vec<u8>],
    rng: &mut impl CryptoRngCore,
) -> Prepared {
    let creator = identity.creator();
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    let tx_id = tx_id(&nonce, &creator);
    let chaincode_id = ChaincodeId {
        name: chaincode.to_owned(),
        ..Default::default()
    };
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        timestamp: Some(now()),
        channel_id: channel.to_owned(),
        tx_id: tx_id.clone(),
        extension: ChaincodeHeaderExtension {
            chaincode_id: Some(chaincode_id.clone()),
        }
        .encode_to_vec(),
        ..Default::default()
    };
    let signature_header = SignatureHeader {
        creator,
        nonce: nonce.to_vec(),
    };
    let header = Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: signature_header.encode_to_vec(),
    };
    let mut all_args = Vec::with_capacity(args.len() + 1);
    all_args.push(function.as_bytes().to_vec());
    all_args.extend(args.iter().cloned());
    let spec = ChaincodeSpec {
        chaincode_id: Some(chaincode_id),
        input: Some(ChaincodeInput {
            args: all_args,
            ..Default::default()
        }),
        ..Default::default()
    };
    let payload = ChaincodeProposalPayload {
        input: ChaincodeInvocationSpec {
            chaincode_spec: Some(spec),
        }
        .encode_to_vec(),
        ..Default::default()
    };
    let proposal_bytes = Proposal {
        header: header.encode_to_vec(),
        payload: payload.encode_to_vec(),
        extension: Vec::new(),
    }
    .encode_to_vec();
    let signature = identity.sign(&proposal_bytes);
    Prepared {
        tx_id,
        signed: SignedProposal {
            proposal_bytes,
            signature,
        },
    }
}

/// The signed request for a transaction's commit status.
pub fn commit_status(
    identity: &FabricIdentity,
    channel: &str,
    tx_id: &str,
) -> SignedCommitStatusRequest {
    let request = CommitStatusRequest {
        transaction_id: tx_id.to_owned(),
        channel_id: channel.to_owned(),
        identity: identity.creator(),
    }
    .encode_to_vec();
    let signature = identity.sign(&request);
    SignedCommitStatusRequest { request, signature }
}

/// The signed request for chaincode events from block `from_block` on.
pub fn chaincode_events(
    identity: &FabricIdentity,
    channel: &str,
    chaincode: &str,
    from_block: u64,
) -> SignedChaincodeEventsRequest {
    let request = ChaincodeEventsRequest {
        channel_id: channel.to_owned(),
        chaincode_id: chaincode.to_owned(),
        identity: identity.creator(),
        start_position: Some(SeekPosition {
            r#type: Some(seek_position::Type::Specified(SeekSpecified {
                number: from_block,
            })),
        }),
        after_transaction_id: String::new(),
    }
    .encode_to_vec();
    let signature = identity.sign(&request);
    SignedChaincodeEventsRequest { request, signature }
}
