//! A minimal Fabric Gateway client built from raw protos, as the official
//! SDKs build their messages: signed proposals, signed envelopes, signed
//! commit-status and chaincode-events requests.

use std::time::{SystemTime, UNIX_EPOCH};

use carechain_core::envelope::HpkeSecretKey;
use carechain_core::identity::SigningKey as ActorKey;
use carechain_core::ids::B64;
use carechain_core::statement::{Action, RegisterIdentity, Role, Statement};
use carechain_fabric_protos::common::{self, ChannelHeader, Envelope, HeaderType, SignatureHeader};
use carechain_fabric_protos::gateway::gateway_client::GatewayClient;
use carechain_fabric_protos::gateway::{
    ChaincodeEventsRequest, ChaincodeEventsResponse, CommitStatusRequest, CommitStatusResponse,
    EndorseRequest, EvaluateRequest, SignedChaincodeEventsRequest, SignedCommitStatusRequest,
    SubmitRequest,
};
use carechain_fabric_protos::msp::SerializedIdentity;
use carechain_fabric_protos::orderer::{SeekPosition, SeekSpecified, seek_position};
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::prost_types::Timestamp;
use carechain_fabric_protos::protos::{
    ChaincodeHeaderExtension, ChaincodeId, ChaincodeInput, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ChaincodeSpec, Proposal, Response, SignedProposal,
};
use carechain_fabric_protos::tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use carechain_fabric_protos::tonic::{Status, Streaming};
use carechain_fabric_testpeer::{ClientIdentity, TestNetwork, compute_tx_id};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use rand_core::{OsRng, RngCore};

pub const AUDIENCE: &str = "carechain:fabric-test";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A client's signer: MSP id, certificate and key.
#[derive(Clone)]
pub struct Signer {
    pub msp_id: String,
    pub cert_pem: String,
    key: SigningKey,
}

impl Signer {
    pub fn new(msp_id: &str, identity: &ClientIdentity) -> Self {
        Self {
            msp_id: msp_id.to_owned(),
            cert_pem: identity.cert_pem.clone(),
            key: SigningKey::from_pkcs8_pem(&identity.key_pem).unwrap(),
        }
    }

    pub fn creator(&self) -> Vec<u8> {
        SerializedIdentity {
            mspid: self.msp_id.clone(),
            id_bytes: self.cert_pem.as_bytes().to_vec(),
        }
        .encode_to_vec()
    }

    /// DER ECDSA, low S, as the Fabric SDKs sign.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(message);
        sig.normalize_s()
            .unwrap_or(sig)
            .to_der()
            .as_bytes()
            .to_vec()
    }
}

/// A proposal of `args` to `chaincode` on `channel`, before signing.
pub struct Built {
    pub tx_id: String,
    pub proposal_bytes: Vec<u8>,
}

pub fn build(
    signer: &Signer,
    channel: &str,
    chaincode: &str,
    args: &[&[u8]],
    seconds: i64,
) -> Built {
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut nonce);
    let creator = signer.creator();
    let tx_id = compute_tx_id(&nonce, &creator);
    let cc_id = ChaincodeId {
        name: chaincode.to_owned(),
        ..Default::default()
    };
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        channel_id: channel.to_owned(),
        tx_id: tx_id.clone(),
        timestamp: Some(Timestamp { seconds, nanos: 0 }),
        extension: ChaincodeHeaderExtension {
            chaincode_id: Some(cc_id.clone()),
        }
        .encode_to_vec(),
        ..Default::default()
    };
    let signature_header = SignatureHeader {
        creator,
        nonce: nonce.to_vec(),
    };
    let spec = ChaincodeInvocationSpec {
        chaincode_spec: Some(ChaincodeSpec {
            r#type: 1,
            chaincode_id: Some(cc_id),
            input: Some(ChaincodeInput {
                args: args.iter().map(|a| a.to_vec()).collect(),
                ..Default::default()
            }),
            timeout: 0,
        }),
    };
    let proposal = Proposal {
        header: common::Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        }
        .encode_to_vec(),
        payload: ChaincodeProposalPayload {
            input: spec.encode_to_vec(),
            transient_map: Default::default(),
        }
        .encode_to_vec(),
        extension: Vec::new(),
    };
    Built {
        tx_id,
        proposal_bytes: proposal.encode_to_vec(),
    }
}

impl Built {
    pub fn signed_by(&self, signer: &Signer) -> SignedProposal {
        SignedProposal {
            proposal_bytes: self.proposal_bytes.clone(),
            signature: signer.sign(&self.proposal_bytes),
        }
    }
}

/// A connected gateway client for the network's Org1 user.
pub struct Client {
    pub gateway: GatewayClient<Channel>,
    pub signer: Signer,
    pub channel: String,
    pub chaincode: String,
}

pub async fn channel(
    net: &TestNetwork,
) -> Result<Channel, carechain_fabric_protos::tonic::transport::Error> {
    let mut endpoint = Endpoint::from_shared(net.endpoint()).unwrap();
    if let Some(ca) = net.tls_root_pem() {
        endpoint = endpoint.tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca))
                .domain_name(net.server_name()),
        )?;
    }
    endpoint.connect().await
}

impl Client {
    pub async fn connect(net: &TestNetwork) -> Self {
        Self {
            gateway: GatewayClient::new(channel(net).await.unwrap()),
            signer: Signer::new(net.msp_id(), &net.client_identity()),
            channel: "mychannel".into(),
            chaincode: "carechain".into(),
        }
    }

    pub fn proposal(&self, args: &[&[u8]]) -> (String, SignedProposal) {
        let built = build(&self.signer, &self.channel, &self.chaincode, args, now());
        (built.tx_id.clone(), built.signed_by(&self.signer))
    }

    pub async fn evaluate_signed(
        &mut self,
        tx_id: &str,
        proposal: SignedProposal,
    ) -> Result<Response, Status> {
        let request = EvaluateRequest {
            transaction_id: tx_id.to_owned(),
            channel_id: self.channel.clone(),
            proposed_transaction: Some(proposal),
            target_organizations: Vec::new(),
        };
        Ok(self
            .gateway
            .evaluate(request)
            .await?
            .into_inner()
            .result
            .unwrap())
    }

    pub async fn evaluate(&mut self, args: &[&[u8]]) -> Result<Response, Status> {
        let (tx_id, proposal) = self.proposal(args);
        self.evaluate_signed(&tx_id, proposal).await
    }

    pub async fn endorse_signed(
        &mut self,
        tx_id: &str,
        proposal: SignedProposal,
    ) -> Result<Envelope, Status> {
        let request = EndorseRequest {
            transaction_id: tx_id.to_owned(),
            channel_id: self.channel.clone(),
            proposed_transaction: Some(proposal),
            endorsing_organizations: Vec::new(),
        };
        Ok(self
            .gateway
            .endorse(request)
            .await?
            .into_inner()
            .prepared_transaction
            .unwrap())
    }

    /// Endorses `args`; returns the tx id and the signed envelope to submit.
    pub async fn endorse(&mut self, args: &[&[u8]]) -> Result<(String, Envelope), Status> {
        let (tx_id, proposal) = self.proposal(args);
        let mut envelope = self.endorse_signed(&tx_id, proposal).await?;
        envelope.signature = self.signer.sign(&envelope.payload);
        Ok((tx_id, envelope))
    }

    pub async fn submit(&mut self, tx_id: &str, envelope: Envelope) -> Result<(), Status> {
        let request = SubmitRequest {
            transaction_id: tx_id.to_owned(),
            channel_id: self.channel.clone(),
            prepared_transaction: Some(envelope),
        };
        self.gateway.submit(request).await.map(drop)
    }

    pub async fn commit_status(&mut self, tx_id: &str) -> Result<CommitStatusResponse, Status> {
        let request = CommitStatusRequest {
            transaction_id: tx_id.to_owned(),
            channel_id: self.channel.clone(),
            identity: self.signer.creator(),
        }
        .encode_to_vec();
        let signed = SignedCommitStatusRequest {
            signature: self.signer.sign(&request),
            request,
        };
        Ok(self.gateway.commit_status(signed).await?.into_inner())
    }

    /// Endorse, submit, wait for commit.
    pub async fn submit_and_wait(&mut self, args: &[&[u8]]) -> (String, CommitStatusResponse) {
        let (tx_id, envelope) = self.endorse(args).await.unwrap();
        self.submit(&tx_id, envelope).await.unwrap();
        let status = self.commit_status(&tx_id).await.unwrap();
        (tx_id, status)
    }

    pub async fn events(
        &mut self,
        start: Option<u64>,
        after_transaction_id: &str,
    ) -> Result<Streaming<ChaincodeEventsResponse>, Status> {
        let request = ChaincodeEventsRequest {
            channel_id: self.channel.clone(),
            chaincode_id: self.chaincode.clone(),
            identity: self.signer.creator(),
            start_position: start.map(|number| SeekPosition {
                r#type: Some(seek_position::Type::Specified(SeekSpecified { number })),
            }),
            after_transaction_id: after_transaction_id.to_owned(),
        }
        .encode_to_vec();
        let signed = SignedChaincodeEventsRequest {
            signature: self.signer.sign(&request),
            request,
        };
        Ok(self.gateway.chaincode_events(signed).await?.into_inner())
    }
}

fn registration(key: &ActorKey, role: Role) -> RegisterIdentity {
    let hpke = HpkeSecretKey::generate(&mut OsRng);
    RegisterIdentity {
        role,
        signing_key: key.verifying_key(),
        hpke_key: B64(hpke.public_key().to_bytes()),
        display_name: format!("{role:?}"),
        paillier: None,
    }
}

fn statement(key: &ActorKey, action: Action) -> Vec<u8> {
    Statement::new(key.actor_id(), AUDIENCE, action, now(), 600, &mut OsRng)
        .sign(key)
        .unwrap()
        .into_bytes()
}

/// `init` arguments (the ledger config and the first admin's self-signed
/// registration), and the admin's key.
pub fn genesis() -> (Vec<Vec<u8>>, ActorKey) {
    let admin = ActorKey::generate(&mut OsRng);
    let token = statement(
        &admin,
        Action::RegisterIdentity(registration(&admin, Role::Admin)),
    );
    let config = format!(r#"{{"audience":"{AUDIENCE}"}}"#);
    (vec![b"init".to_vec(), config.into_bytes(), token], admin)
}

/// `init` arguments of a fresh admin.
pub fn genesis_args() -> Vec<Vec<u8>> {
    genesis().0
}

/// `submit` arguments: `admin` registers a new doctor.
pub fn register_doctor(admin: &ActorKey) -> Vec<Vec<u8>> {
    let doctor = ActorKey::generate(&mut OsRng);
    let token = statement(
        admin,
        Action::RegisterIdentity(registration(&doctor, Role::Doctor)),
    );
    vec![b"submit".to_vec(), token]
}

pub fn refs(args: &[Vec<u8>]) -> Vec<&[u8]> {
    args.iter().map(Vec::as_slice).collect()
}
