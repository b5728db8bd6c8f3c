//! The test peer driven through the real Gateway protos with hand-built,
//! signed messages: the contract's answers, Fabric's refusals, ordering,
//! MVCC validation, chaincode events, QSCC and a gateway restart.
#![allow(clippy::unwrap_used, missing_docs)]

mod client;

use std::time::Duration;

use carechain_fabric_protos::common::{Block, BlockchainInfo, ChannelHeader, Envelope, Payload};
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::{ChaincodeEvent, TxValidationCode};
use carechain_fabric_protos::tonic::Code;
use carechain_fabric_testpeer::status::error_details;
use carechain_fabric_testpeer::{
    Failure, NetworkOptions, TestNetwork, block_data_hash, block_header_hash,
};
use client::{Client, Signer, build, genesis, genesis_args, now, refs, register_doctor};

async fn network() -> TestNetwork {
    TestNetwork::start(NetworkOptions::default()).await.unwrap()
}

/// Waits at most 30 s for the next events response (a hang fails, it does not pass).
async fn next_events(
    stream: &mut carechain_fabric_protos::tonic::Streaming<
        carechain_fabric_protos::gateway::ChaincodeEventsResponse,
    >,
) -> carechain_fabric_protos::gateway::ChaincodeEventsResponse {
    tokio::time::timeout(Duration::from_secs(30), stream.message())
        .await
        .expect("an events response within 30 s")
        .unwrap()
        .expect("the stream is open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_reaches_the_contract_and_returns_its_refusal() {
    let net = network().await;
    let mut client = Client::connect(&net).await;
    let (tx_id, proposal) = client.proposal(&[b"policy", b"no-such-policy"]);
    let status = client.evaluate_signed(&tx_id, proposal).await.unwrap_err();
    assert_eq!(status.code(), Code::Unknown, "{status:?}");
    let prefix = "evaluate call to endorser returned error: chaincode response 404, not_found: ";
    assert!(status.message().starts_with(prefix), "{}", status.message());
    let details = error_details(&status);
    assert_eq!(details.len(), 1, "{status:?}");
    assert_eq!(details[0].msp_id, "Org1MSP");
    assert!(details[0].address.starts_with("peer0.org1.example.com:"));
    assert!(
        details[0]
            .message
            .starts_with("chaincode response 404, not_found: ")
    );
    assert_eq!(
        net.received(),
        vec![format!("Evaluate tx={tx_id} fn=policy")]
    );
    // The same refusal through Endorse is Aborted with the detail.
    let status = client
        .endorse(&[b"policy", b"no-such-policy"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(
        status.message(),
        "failed to endorse transaction, see attached details for more info"
    );
    assert!(
        error_details(&status)[0]
            .message
            .starts_with("chaincode response 404, not_found: ")
    );
    assert_eq!(net.height(), 1, "refusals commit nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_and_tx_ids_are_refused() {
    let net = network().await;
    let mut client = Client::connect(&net).await;
    let built = build(
        &client.signer,
        "mychannel",
        "carechain",
        &[b"config"],
        now(),
    );
    let mut signed = built.signed_by(&client.signer);
    signed.signature = client.signer.sign(b"something else");
    let status = client
        .evaluate_signed(&built.tx_id, signed.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        "evaluate call to endorser returned error: error validating proposal: access denied: channel [mychannel] creator org [Org1MSP]"
    );
    let status = client
        .endorse_signed(&built.tx_id, signed)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(
        error_details(&status)[0].message,
        "error validating proposal: access denied: channel [mychannel] creator org [Org1MSP]"
    );
    // A tx id that is not hex(SHA-256(nonce ‖ creator)).
    let mut proposal =
        carechain_fabric_protos::protos::Proposal::decode(built.proposal_bytes.as_slice()).unwrap();
    let mut header =
        carechain_fabric_protos::common::Header::decode(proposal.header.as_slice()).unwrap();
    let mut channel_header = ChannelHeader::decode(header.channel_header.as_slice()).unwrap();
    channel_header.tx_id = "0".repeat(64);
    header.channel_header = channel_header.encode_to_vec();
    proposal.header = header.encode_to_vec();
    let forged = client::Built {
        tx_id: "0".repeat(64),
        proposal_bytes: proposal.encode_to_vec(),
    };
    let status = client
        .evaluate_signed(&forged.tx_id, forged.signed_by(&client.signer))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains(&format!(
            "incorrectly computed txid '{}' -- expected",
            "0".repeat(64)
        )),
        "{status:?}"
    );
    // An unsigned proposal is refused as such.
    let mut unsigned = built.signed_by(&client.signer);
    unsigned.signature.clear();
    let status = client
        .evaluate_signed(&built.tx_id, unsigned)
        .await
        .unwrap_err();
    assert!(
        status.message().ends_with("empty signature bytes"),
        "{status:?}"
    );
    // Undecodable proposal bytes never reach the endorser.
    let mut garbage = built.signed_by(&client.signer);
    garbage.proposal_bytes = vec![0xff, 0xff, 0xff];
    let status = client.evaluate_signed("x", garbage).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("failed to unpack transaction proposal: error unmarshalling Proposal"),
        "{status:?}"
    );
    // Unknown chaincode.
    client.chaincode = "other".into();
    let status = client.evaluate(&[b"config"]).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        "no peers available to evaluate chaincode other in channel mychannel"
    );
    assert_eq!(net.received().len(), 4, "{:?}", net.received());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_and_unknown_identities_are_refused() {
    let net = network().await;
    let mut client = Client::connect(&net).await;
    client.signer = Signer::new("Org1MSP", &TestNetwork::foreign_identity());
    let status = client.evaluate(&[b"config"]).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status
            .message()
            .ends_with("access denied: channel [mychannel] creator org [Org1MSP]"),
        "{status:?}"
    );
    client.signer = Signer::new("Org9MSP", &net.client_identity());
    let status = client.evaluate(&[b"config"]).await.unwrap_err();
    assert!(
        status.message().ends_with(
            "access denied: channel [mychannel] creator org unknown, creator is malformed"
        ),
        "{status:?}"
    );
    // Signed requests of a foreign identity are refused too.
    let status = client.commit_status("abc").await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endorse_submit_commit_is_valid_and_applies_the_writes() {
    let net = network().await;
    let mut client = Client::connect(&net).await;
    let args = genesis_args();
    let (tx_id, envelope) = client.endorse(&refs(&args)).await.unwrap();
    // The prepared transaction is the proposal's header and the endorsed action.
    let payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let header = ChannelHeader::decode(payload.header.unwrap().channel_header.as_slice()).unwrap();
    assert_eq!(header.tx_id, tx_id);
    client.submit(&tx_id, envelope).await.unwrap();
    let status = client.commit_status(&tx_id).await.unwrap();
    assert_eq!(status.result, TxValidationCode::Valid as i32);
    assert_eq!(status.block_number, 1);
    assert_eq!(net.height(), 2);
    // The write is visible: the config now reads back.
    let config = client.evaluate(&[b"config"]).await.unwrap();
    assert_eq!(config.status, 200);
    let text = String::from_utf8(config.payload).unwrap();
    assert!(text.contains(client::AUDIENCE), "{text}");
    let received = net.received();
    assert!(
        received.contains(&format!("Endorse tx={tx_id} fn=init")),
        "{received:?}"
    );
    assert!(
        received.contains(&format!("Submit tx={tx_id}")),
        "{received:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_transactions_commit_valid_then_mvcc_conflict() {
    let net = network().await;
    let mut client = Client::connect(&net).await;
    // Both read the (absent) config key and write it.
    let (first, first_env) = client.endorse(&refs(&genesis_args())).await.unwrap();
    let (second, second_env) = client.endorse(&refs(&genesis_args())).await.unwrap();
    client.submit(&first, first_env).await.unwrap();
    let status = client.commit_status(&first).await.unwrap();
    assert_eq!(status.result, TxValidationCode::Valid as i32);
    client.submit(&second, second_env.clone()).await.unwrap();
    let status = client.commit_status(&second).await.unwrap();
    assert_eq!(status.result, TxValidationCode::MvccReadConflict as i32);
    assert_eq!(status.block_number, 2);
    assert_eq!(
        net.height(),
        3,
        "an invalid transaction still takes its block"
    );
    // Submitting it again: a duplicate id keeps its first status.
    client.submit(&second, second_env).await.unwrap();
    let mut events = client.events(Some(0), "").await.unwrap();
    let response = next_events(&mut events).await;
    assert_eq!(response.block_number, 1);
    assert_eq!(response.events.len(), 1);
    assert_eq!(response.events[0].tx_id, first);
    assert_eq!(client.commit_status(&second).await.unwrap().block_number, 2);
    assert_eq!(net.height(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaincode_events_replay_resume_and_stream_live() {
    let net = network().await;
    let mut client = Client::connect(&net).await;
    let (init, admin) = genesis();
    // Endorsed before the first commits: it will conflict, and its event must not show.
    let (loser, loser_env) = client.endorse(&refs(&genesis_args())).await.unwrap();
    let (first, status) = client.submit_and_wait(&refs(&init)).await;
    assert_eq!(status.block_number, 1);
    client.submit(&loser, loser_env).await.unwrap();
    let status = client.commit_status(&loser).await.unwrap();
    assert_eq!(status.result, TxValidationCode::MvccReadConflict as i32);
    let (third, status) = client
        .submit_and_wait(&refs(&register_doctor(&admin)))
        .await;
    assert_eq!(
        (status.result, status.block_number),
        (TxValidationCode::Valid as i32, 3)
    );

    // Replay from block 0: blocks 1 and 3, block 2's invalid transaction skipped.
    let mut stream = client.events(Some(0), "").await.unwrap();
    let one = next_events(&mut stream).await;
    assert_eq!(one.block_number, 1);
    assert_eq!(one.events.len(), 1);
    assert_eq!(one.events[0].tx_id, first);
    assert_eq!(
        event_of(&one.events[0]),
        ("carechain".into(), "identity_registered".into())
    );
    assert!(!one.events[0].payload.is_empty());
    let three = next_events(&mut stream).await;
    assert_eq!(three.block_number, 3);
    assert_eq!(three.events[0].tx_id, third);

    // Resume after the first transaction: its block again, without it.
    let mut resumed = client.events(Some(0), &first).await.unwrap();
    let next = next_events(&mut resumed).await;
    assert_eq!(
        (next.block_number, next.events[0].tx_id.clone()),
        (3, third.clone())
    );

    // From the next commit: live.
    let mut live = client.events(None, "").await.unwrap();
    let (fourth, _) = client
        .submit_and_wait(&refs(&register_doctor(&admin)))
        .await;
    let next = next_events(&mut live).await;
    assert_eq!(
        (next.block_number, next.events[0].tx_id.clone()),
        (4, fourth.clone())
    );
    // The replaying stream sees it too.
    let next = next_events(&mut stream).await;
    assert_eq!(next.events[0].tx_id, fourth);
    assert!(
        net.received()
            .iter()
            .any(|r| r.starts_with("ChaincodeEvents cc=carechain"))
    );
}

fn event_of(e: &ChaincodeEvent) -> (String, String) {
    (e.chaincode_id.clone(), e.event_name.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qscc_answers_chain_info_and_real_blocks() {
    let net = network().await;
    let mut client = Client::connect(&net).await;
    let (tx_id, _) = client.submit_and_wait(&refs(&genesis_args())).await;
    client.chaincode = "qscc".into();
    let info = client
        .evaluate(&[b"GetChainInfo", b"mychannel"])
        .await
        .unwrap();
    let info = BlockchainInfo::decode(info.payload.as_slice()).unwrap();
    assert_eq!(info.height, 2);
    let bytes = client
        .evaluate(&[b"GetBlockByNumber", b"mychannel", b"1"])
        .await
        .unwrap()
        .payload;
    let block = Block::decode(bytes.as_slice()).unwrap();
    let header = block.header.clone().unwrap();
    assert_eq!(header.number, 1);
    assert_eq!(block_header_hash(&header), info.current_block_hash);
    assert_eq!(header.previous_hash, info.previous_block_hash);
    let data = block.data.clone().unwrap();
    assert_eq!(header.data_hash, block_data_hash(&data));
    let metadata = block.metadata.unwrap().metadata;
    assert_eq!(metadata.len(), 5);
    assert_eq!(metadata[2], vec![TxValidationCode::Valid as u8]);
    let envelope = Envelope::decode(data.data[0].as_slice()).unwrap();
    let payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let channel_header =
        ChannelHeader::decode(payload.header.unwrap().channel_header.as_slice()).unwrap();
    assert_eq!(channel_header.tx_id, tx_id);
    // The genesis block is block 0, chained to block 1.
    let bytes = client
        .evaluate(&[b"GetBlockByNumber", b"mychannel", b"0"])
        .await
        .unwrap()
        .payload;
    let genesis = Block::decode(bytes.as_slice()).unwrap();
    assert_eq!(
        block_header_hash(&genesis.header.unwrap()),
        header.previous_hash
    );
    let status = client
        .evaluate(&[b"GetBlockByNumber", b"mychannel", b"99"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unknown);
    assert_eq!(
        status.message(),
        "evaluate call to endorser returned error: chaincode response 500, Failed to get block number 99, error Entry not found in index"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_gateway_keeps_the_ledger_and_the_port() {
    let mut net = network().await;
    let endpoint = net.endpoint();
    let mut client = Client::connect(&net).await;
    let (tx_id, _) = client.submit_and_wait(&refs(&genesis_args())).await;
    net.stop_gateway().await;
    assert!(
        client::channel(&net).await.is_err(),
        "nothing listens while stopped"
    );
    net.restart_gateway().await.unwrap();
    assert_eq!(net.endpoint(), endpoint);
    let mut client = Client::connect(&net).await;
    let status = client.commit_status(&tx_id).await.unwrap();
    assert_eq!(
        (status.result, status.block_number),
        (TxValidationCode::Valid as i32, 1)
    );
    assert_eq!(net.height(), 2);
    assert_eq!(client.evaluate(&[b"config"]).await.unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_failures_and_tls() {
    let net = TestNetwork::start(NetworkOptions {
        tls: true,
        ..NetworkOptions::default()
    })
    .await
    .unwrap();
    assert!(net.endpoint().starts_with("https://127.0.0.1:"));
    let mut client = Client::connect(&net).await;
    net.fail_next_endorsements(1, Failure::Unavailable);
    net.fail_next_endorsements(1, Failure::PeerError);
    let status = client.evaluate(&[b"config"]).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    let status = client.endorse(&[b"config"]).await.unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert!(
        error_details(&status)[0]
            .message
            .ends_with("chaincode stream terminated")
    );
    let status = client.evaluate(&[b"policy", b"x"]).await.unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unknown,
        "failures are used up: {status:?}"
    );
    // No live peers satisfy the endorsement policy (an org down, or gossip
    // not yet aware of a restarted peer): the gateway's FailedPrecondition.
    net.fail_next_endorsements(1, Failure::NoEndorsementPlan);
    let status = client.endorse(&[b"config"]).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().starts_with(
            "no combination of peers can be derived which satisfy the endorsement policy"
        ),
        "{status:?}"
    );
    net.fail_next_endorsements(1, Failure::Timeout);
    let (tx_id, proposal) = client.proposal(&[b"config"]);
    let mut request = carechain_fabric_protos::tonic::Request::new(
        carechain_fabric_protos::gateway::EvaluateRequest {
            transaction_id: tx_id,
            channel_id: "mychannel".into(),
            proposed_transaction: Some(proposal),
            target_organizations: Vec::new(),
        },
    );
    request.set_timeout(Duration::from_millis(300));
    let status = client.gateway.evaluate(request).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(status.message(), "evaluate timeout expired");
}
