//! The Gateway messages decode the way a peer decodes them: a well-formed
//! endorser proposal with Fabric's tx id, signed low-S under the MSP key.
#![allow(clippy::unwrap_used)]

use carechain_fabric_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use carechain_fabric_protos::gateway::{ChaincodeEventsRequest, CommitStatusRequest};
use carechain_fabric_protos::msp::SerializedIdentity;
use carechain_fabric_protos::orderer::seek_position;
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::{
    ChaincodeHeaderExtension, ChaincodeInvocationSpec, ChaincodeProposalPayload, Proposal,
};
use carechain_ledger::fabric::proposal::{chaincode_events, commit_status, proposal, tx_id};
use carechain_ledger::fabric::{FabricIdentity, IdentityError};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

const CERT: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB0zCCAXmgAwIBAgIUbm90IGEgcmVhbCBjZXJ0aWZpY2F0ZTAKBggqhkjOPQQD\n-----END CERTIFICATE-----\n";

fn identity(seed: u64) -> FabricIdentity {
    let key = SigningKey::random(&mut ChaCha20Rng::seed_from_u64(seed));
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    FabricIdentity::from_pem("Org1MSP", CERT, &pem, "test").unwrap()
}

/// Verifies a signature as Fabric's MSP does: DER, low S, under the key.
fn verify(id: &FabricIdentity, message: &[u8], der: &[u8]) {
    let signature = Signature::from_der(der).unwrap();
    assert!(signature.normalize_s().is_none(), "high-S signature");
    id.verifying_key().verify(message, &signature).unwrap();
}

#[test]
fn a_proposal_decodes_as_an_endorser_transaction_signed_by_the_creator() {
    let id = identity(1);
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    for _ in 0..20 {
        let prepared = proposal(
            &id,
            "mychannel",
            "carechain",
            "submit",
            &[b"jws".to_vec()],
            &mut rng,
        );
        verify(
            &id,
            &prepared.signed.proposal_bytes,
            &prepared.signed.signature,
        );
        let proposal = Proposal::decode(prepared.signed.proposal_bytes.as_slice()).unwrap();
        let header = Header::decode(proposal.header.as_slice()).unwrap();
        let channel = ChannelHeader::decode(header.channel_header.as_slice()).unwrap();
        let signature = SignatureHeader::decode(header.signature_header.as_slice()).unwrap();
        assert_eq!(channel.r#type, HeaderType::EndorserTransaction as i32);
        assert_eq!(channel.channel_id, "mychannel");
        assert!(channel.timestamp.is_some());
        assert_eq!(signature.nonce.len(), 24);
        assert_eq!(channel.tx_id, tx_id(&signature.nonce, &signature.creator));
        assert_eq!(channel.tx_id, prepared.tx_id);
        let creator = SerializedIdentity::decode(signature.creator.as_slice()).unwrap();
        assert_eq!(
            (creator.mspid.as_str(), creator.id_bytes.as_slice()),
            ("Org1MSP", CERT)
        );
        let ext = ChaincodeHeaderExtension::decode(channel.extension.as_slice()).unwrap();
        assert_eq!(ext.chaincode_id.unwrap().name, "carechain");
        let payload = ChaincodeProposalPayload::decode(proposal.payload.as_slice()).unwrap();
        let spec = ChaincodeInvocationSpec::decode(payload.input.as_slice())
            .unwrap()
            .chaincode_spec
            .unwrap();
        assert_eq!(spec.chaincode_id.unwrap().name, "carechain");
        assert_eq!(
            spec.input.unwrap().args,
            vec![b"submit".to_vec(), b"jws".to_vec()]
        );
    }
}

#[test]
fn tx_ids_are_sha256_of_nonce_and_creator() {
    // SHA-256("ab" ‖ "c") = SHA-256("abc").
    assert_eq!(
        tx_id(b"ab", b"c"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn requests_are_signed_over_their_bytes() {
    let id = identity(2);
    let status = commit_status(&id, "mychannel", "abc");
    verify(&id, &status.request, &status.signature);
    let request = CommitStatusRequest::decode(status.request.as_slice()).unwrap();
    assert_eq!(
        (request.channel_id.as_str(), request.transaction_id.as_str()),
        ("mychannel", "abc")
    );
    assert_eq!(request.identity, id.creator());

    let events = chaincode_events(&id, "mychannel", "carechain", 7);
    verify(&id, &events.request, &events.signature);
    let request = ChaincodeEventsRequest::decode(events.request.as_slice()).unwrap();
    assert_eq!(request.chaincode_id, "carechain");
    match request.start_position.unwrap().r#type.unwrap() {
        seek_position::Type::Specified(s) => assert_eq!(s.number, 7),
        other => panic!("expected a specified start block, found {other:?}"),
    }
}

#[test]
fn a_signature_by_another_key_does_not_verify() {
    let (a, b) = (identity(3), identity(4));
    let der = a.sign(b"message");
    let signature = Signature::from_der(&der).unwrap();
    assert!(b.verifying_key().verify(b"message", &signature).is_err());
}

#[test]
fn bad_identity_files_are_refused_without_showing_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, CERT).unwrap();
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = FabricIdentity::from_files("Org1MSP", &cert, &key).unwrap_err();
    assert!(matches!(err, IdentityError::BadKey(_)), "{err}");
    assert!(!err.to_string().contains("c2VjcmV0"));
    let err = FabricIdentity::from_files("Org1MSP", &key, &key).unwrap_err();
    assert!(matches!(err, IdentityError::NotACertificate(_)), "{err}");
    let missing = dir.path().join("missing.pem");
    let err = FabricIdentity::from_files("Org1MSP", &missing, &key).unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
    // A real key loads, and its Debug never shows it.
    let good = SigningKey::random(&mut ChaCha20Rng::seed_from_u64(5))
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
    std::fs::write(&key, good.as_bytes()).unwrap();
    let id = FabricIdentity::from_files("Org1MSP", &cert, &key).unwrap();
    assert!(format!("{id:?}").contains("redacted"));
}
