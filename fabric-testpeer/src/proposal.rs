//! Signed proposals taken apart and checked as Fabric does: the gateway's
//! `getChannelAndChaincodeFromSignedProposal`, the endorser's
//! `UnpackProposal` (which also computes the proposal hash) and
//! `UnpackedProposal.Validate` (header type, epoch, nonce, creator, tx id,
//! creator identity and signature). Error texts are Fabric's.

use carechain_fabric_protos::common::{self, ChannelHeader, HeaderType, SignatureHeader};
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::{
    ChaincodeHeaderExtension, ChaincodeInput, ChaincodeInvocationSpec, ChaincodeProposalPayload,
    Proposal, SignedProposal,
};
use sha2::{Digest, Sha256};

use crate::pki::{IdentityError, Msp};

/// Decodes `bytes` as `T`, with Go's `protoutil` error text.
pub(crate) fn unmarshal<T: Message + Default>(bytes: &[u8], what: &str) -> Result<T, String> {
    T::decode(bytes).map_err(|e| format!("error unmarshalling {what}: {e}"))
}

/// The transaction id Fabric requires: hex(SHA-256(nonce ‖ creator)).
pub fn compute_tx_id(nonce: &[u8], creator: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(nonce);
    hasher.update(creator);
    hex::encode(hasher.finalize())
}

/// What the gateway reads of a proposal before choosing endorsers.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub channel: String,
    pub chaincode: String,
    pub tx_id: String,
    pub function: String,
}

/// The gateway's `getChannelAndChaincodeFromSignedProposal`.
pub(crate) fn target(signed: Option<&SignedProposal>) -> Result<Target, String> {
    let signed = signed.ok_or("a signed proposal is required")?;
    if signed.proposal_bytes.is_empty() {
        return Err("a signed proposal is required".into());
    }
    let proposal: Proposal = unmarshal(&signed.proposal_bytes, "Proposal")?;
    let header: common::Header = unmarshal(&proposal.header, "Header")?;
    let channel_header: ChannelHeader = unmarshal(&header.channel_header, "ChannelHeader")?;
    let payload: ChaincodeProposalPayload =
        unmarshal(&proposal.payload, "ChaincodeProposalPayload")?;
    let spec: ChaincodeInvocationSpec = unmarshal(&payload.input, "ChaincodeInvocationSpec")?;
    let channel = channel_header.channel_id;
    if channel.is_empty() {
        return Err("no channel id provided".into());
    }
    let Some(spec) = spec.chaincode_spec else {
        return Err(format!(
            "no chaincode spec is provided, channel id [{channel}]"
        ));
    };
    let Some(id) = spec.chaincode_id else {
        return Err(format!(
            "no chaincode id is provided, channel id [{channel}]"
        ));
    };
    if id.name.is_empty() {
        return Err(format!(
            "no chaincode name is provided, channel id [{channel}]"
        ));
    }
    let function = spec
        .input
        .and_then(|i| i.args.into_iter().next())
        .map(|f| String::from_utf8_lossy(&f).into_owned())
        .unwrap_or_default();
    Ok(Target {
        channel,
        chaincode: id.name,
        tx_id: channel_header.tx_id,
        function,
    })
}

/// A proposal taken apart by the endorser (`UnpackedProposal`).
#[derive(Clone, Debug)]
pub(crate) struct Unpacked {
    pub signed: SignedProposal,
    pub header: common::Header,
    pub channel_header: ChannelHeader,
    pub signature_header: SignatureHeader,
    pub payload: ChaincodeProposalPayload,
    pub chaincode: String,
    pub input: ChaincodeInput,
    pub proposal_hash: Vec<u8>,
}

/// The endorser's `UnpackProposal`.
pub(crate) fn unpack(signed: &SignedProposal) -> Result<Unpacked, String> {
    let proposal: Proposal = unmarshal(&signed.proposal_bytes, "Proposal")?;
    let header: common::Header = unmarshal(&proposal.header, "Header")?;
    let channel_header: ChannelHeader = unmarshal(&header.channel_header, "ChannelHeader")?;
    let signature_header: SignatureHeader = unmarshal(&header.signature_header, "SignatureHeader")?;
    let extension: ChaincodeHeaderExtension =
        unmarshal(&channel_header.extension, "ChaincodeHeaderExtension")?;
    let Some(id) = extension.chaincode_id else {
        return Err("ChaincodeHeaderExtension.ChaincodeId is nil".into());
    };
    if id.name.is_empty() {
        return Err("ChaincodeHeaderExtension.ChaincodeId.Name is empty".into());
    }
    let payload: ChaincodeProposalPayload =
        unmarshal(&proposal.payload, "ChaincodeProposalPayload")?;
    let spec: ChaincodeInvocationSpec = unmarshal(&payload.input, "ChaincodeInvocationSpec")?;
    let Some(spec) = spec.chaincode_spec else {
        return Err("chaincode invocation spec did not contain chaincode spec".into());
    };
    let Some(input) = spec.input else {
        return Err("chaincode input did not contain any input".into());
    };
    let proposal_hash = proposal_hash(&header, &payload);
    Ok(Unpacked {
        signed: signed.clone(),
        header,
        channel_header,
        signature_header,
        payload,
        chaincode: id.name,
        input,
        proposal_hash,
    })
}

/// The payload without its transient map, as it goes into the transaction.
pub(crate) fn payload_without_transient(payload: &ChaincodeProposalPayload) -> Vec<u8> {
    ChaincodeProposalPayload {
        input: payload.input.clone(),
        transient_map: Default::default(),
    }
    .encode_to_vec()
}

/// SHA-256(channel header ‖ signature header ‖ payload without transient map).
pub(crate) fn proposal_hash(
    header: &common::Header,
    payload: &ChaincodeProposalPayload,
) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(&header.channel_header);
    hasher.update(&header.signature_header);
    hasher.update(payload_without_transient(payload));
    hasher.finalize().to_vec()
}

impl Unpacked {
    /// The endorser's `UnpackedProposal.Validate` against the channel's MSP.
    pub(crate) fn validate(&self, msp: &Msp) -> Result<(), String> {
        let ch = &self.channel_header;
        match HeaderType::try_from(ch.r#type) {
            Ok(HeaderType::EndorserTransaction | HeaderType::Config) => {}
            Ok(other) => return Err(format!("invalid header type {}", other.as_str_name())),
            Err(_) => return Err(format!("invalid header type {}", ch.r#type)),
        }
        if ch.epoch != 0 {
            return Err("epoch is non-zero".into());
        }
        let sh = &self.signature_header;
        if sh.nonce.is_empty() {
            return Err("nonce is empty".into());
        }
        if sh.creator.is_empty() {
            return Err("creator is empty".into());
        }
        let expected = compute_tx_id(&sh.nonce, &sh.creator);
        if ch.tx_id != expected {
            return Err(format!(
                "incorrectly computed txid '{}' -- expected '{expected}'",
                ch.tx_id
            ));
        }
        if self.signed.proposal_bytes.is_empty() {
            return Err("empty proposal bytes".into());
        }
        if self.signed.signature.is_empty() {
            return Err("empty signature bytes".into());
        }
        let channel = &ch.channel_id;
        let cert = msp.deserialize(&sh.creator).map_err(|_| {
            format!("access denied: channel [{channel}] creator org unknown, creator is malformed")
        })?;
        let denied = |_: IdentityError| {
            format!(
                "access denied: channel [{channel}] creator org [{}]",
                msp.id
            )
        };
        let key = msp.validate(&cert).map_err(denied)?;
        crate::pki::verify(
            &key,
            &self.signed.proposal_bytes,
            &self.signed.signature,
            true,
        )
        .map_err(denied)
    }
}
