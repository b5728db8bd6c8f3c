//! The chaincode server driven through the real chaincode protocol by a
//! peer-side harness over gRPC: the same statements give the same answers,
//! events and final world state as the in-memory reference the ledger
//! backends are held to.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

mod peer;
#[path = "../support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use carechain_chaincode::CareChain;
use carechain_chaincode::ccaas::{EMPTY_VALUE, ServerConfig, serve_on};
use carechain_core::statement::*;
use carechain_fabric_protos::protos::chaincode_message::Type;
use carechain_fabric_protos::protos::{ChaincodeMessage, Response};
use peer::{Outcome, TestPeer, Tx, message, transaction};
use support::insurance::setup;
use support::{Call, World};
use tokio::net::TcpListener;

const CCID: &str = "carechain_1.0:0123456789abcdef";

/// Starts the server on a free local port.
async fn server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServerConfig::from_lookup(|name| match name {
        "CHAINCODE_SERVER_ADDRESS" => Some(addr.to_string()),
        "CORE_CHAINCODE_ID_NAME" => Some(CCID.to_owned()),
        _ => None,
    })
    .unwrap();
    tokio::spawn(async move {
        serve_on(
            listener,
            &config,
            Arc::new(CareChain),
            std::future::pending(),
        )
        .await
        .unwrap();
    });
    addr
}

/// The whole insurance story, with refusals and queries along the way.
fn story() -> World {
    let (mut w, patient, doctor, insurer) = setup();
    let product = w.product(&insurer, &[("I10", 10_000), ("E11", 50_000)]);
    let policy = w.policy(&insurer, &patient, product);
    w.advance(3600);
    let record = w.write(&doctor, &patient, "E11.9");
    let other = w.write(&doctor, &patient, "J45.0");
    // A grant over two records scans them with an iterator of several batches
    // (`QUERY_STATE_NEXT`), and the next write finds two live grants.
    let second = w.registered(Role::Doctor);
    w.consent(&second, &patient);
    w.write(&doctor, &patient, "I10");
    assert!(w.claim(&patient, policy, record, 1).is_ok());
    // Rejected (a committed decision), then refusals: wrong role, replayed nonce.
    assert!(w.claim(&patient, policy, other, 0).is_ok());
    let claim = carechain_core::ids::ClaimId::random(&mut w.rng);
    let new_policy = carechain_core::ids::PolicyId::random(&mut w.rng);
    // Another product: a second active policy of the same one is refused (rules 3).
    let other_product = w.product(&insurer, &[("J45", 5_000)]);
    let token = w.sign(
        &doctor.key,
        Action::MarkPaid(MarkPaid {
            claim,
            reference: "wire 1".into(),
        }),
    );
    assert!(w.submit_token(&token).is_err());
    let token = w.sign(
        &patient.key,
        Action::PurchasePolicy(PurchasePolicy {
            policy: new_policy,
            product: other_product,
        }),
    );
    assert!(w.submit_token(&token).is_ok());
    assert!(w.submit_token(&token).is_err());
    let _ = w.query("records_for_patient", &[patient.id().as_str()]);
    let _ = w.query("policy", &[&policy.to_string()]);
    let _ = w.raw_query("no_such_function", &[]);
    w
}

/// What the reference answered, as the peer must see it.
fn expected(call: &Call) -> (i32, Vec<u8>, String, Option<(String, Vec<u8>)>) {
    match &call.result {
        Ok((payload, event)) => (200, payload.clone(), String::new(), event.clone()),
        Err(e) => (
            i32::from(e.status),
            Vec::new(),
            format!("{}: {}", e.code, e.message),
            None,
        ),
    }
}

fn seen(outcome: Outcome) -> (i32, Vec<u8>, String, Option<(String, Vec<u8>)>) {
    match outcome {
        Outcome::Completed(
            Response {
                status,
                message,
                payload,
            },
            event,
        ) => (
            status,
            payload,
            message,
            event.map(|e| (e.event_name, e.payload)),
        ),
        Outcome::Error(text) => panic!("expected COMPLETED, found ERROR {text}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_of_a_story_answers_as_the_reference_state_does() {
    let world = tokio::task::spawn_blocking(story).await.unwrap();
    let addr = server().await;
    let mut peer = TestPeer::ready(addr, CCID).await;
    peer.page_size = 1;
    let (mut refusals, mut events) = (0, 0);
    for (i, call) in world.driver.log.iter().enumerate() {
        let tx_id = call.tx_id.clone().unwrap_or_else(|| format!("query{i}"));
        let msg = transaction(&tx_id, call.now, &call.function, &call.args);
        let outcome = peer.run_one(msg, call.tx_id.is_some(), call.now).await;
        let want = expected(call);
        refusals += usize::from(want.0 != 200);
        events += usize::from(want.3.is_some());
        assert_eq!(seen(outcome), want, "call {i}: {}", call.function);
    }
    assert!(
        refusals >= 3 && events >= 5,
        "{refusals} refusals, {events} events"
    );
    // Range reads were paged and every iterator closed.
    assert!(peer.pages_served > 0);
    // The list queries are paginated range reads, transactions use iterators.
    assert!(peer.paginated_ranges > 0);
    assert!(peer.iterators_closed());
    // Same final state; the contract's empty index entries are stored as the marker.
    let reference = world.snapshot();
    let on_peer: Vec<(String, Vec<u8>)> = peer
        .state
        .iter()
        .map(|(k, v)| {
            let v = if v.as_slice() == EMPTY_VALUE {
                Vec::new()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    assert_eq!(on_peer, reference);
    assert!(peer.state.values().any(|v| v.as_slice() == EMPTY_VALUE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_are_told_apart_by_tx_id() {
    let world = tokio::task::spawn_blocking(story).await.unwrap();
    let addr = server().await;
    let mut peer = TestPeer::ready(addr, CCID).await;
    // Build the final state through the server, then ask every query at once.
    for call in world.driver.log.iter().filter(|c| c.tx_id.is_some()) {
        let msg = transaction(
            call.tx_id.as_deref().unwrap(),
            call.now,
            &call.function,
            &call.args,
        );
        peer.run_one(msg, true, call.now).await;
    }
    let mut reference = world.state().clone();
    let queries: Vec<(String, &Call)> = world
        .driver
        .log
        .iter()
        .filter(|c| c.tx_id.is_none())
        .cycle()
        .take(12)
        .enumerate()
        .map(|(i, c)| (format!("concurrent{i}"), c))
        .collect();
    let txs = queries
        .iter()
        .map(|(id, c)| Tx {
            msg: transaction(id, c.now, &c.function, &c.args),
            commit: false,
            seconds: c.now,
        })
        .collect();
    let mut done = peer.run(txs).await;
    for (id, call) in &queries {
        let now = carechain_chaincode::Timestamp {
            seconds: call.now,
            nanos: 0,
        };
        let want = match reference.query(&CareChain, now, &call.function, &call.args) {
            Ok(payload) => (200, payload, String::new(), None),
            Err(e) => (
                i32::from(e.status),
                Vec::new(),
                format!("{}: {}", e.code, e.message),
                None,
            ),
        };
        assert_eq!(seen(done.remove(id).unwrap()), want, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_state_read_fails_the_transaction() {
    let addr = server().await;
    let mut peer = TestPeer::ready(addr, CCID).await;
    peer.fail_reads = Some("ledger closed".into());
    let msg = transaction("tx-fail", 1_800_000_000, "policy", &[b"x".to_vec()]);
    let (status, _, text, _) = seen(peer.run_one(msg, true, 1_800_000_000).await);
    assert_eq!(status, 500);
    assert!(
        text.starts_with("ledger_unavailable: ") && text.contains("ledger closed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_answered_with_error() {
    let addr = server().await;
    let mut peer = TestPeer::ready(addr, CCID).await;
    // Keepalives are echoed.
    peer.send(message(Type::Keepalive, "", Vec::new()));
    assert_eq!(peer.recv().await.unwrap().r#type, Type::Keepalive as i32);
    // An undecodable input, and a transaction without its signed proposal.
    let garbage = message(Type::Transaction, "tx-garbage", vec![0xff, 0xff, 0xff]);
    match peer.run_one(garbage, false, 0).await {
        Outcome::Error(text) => assert!(text.contains("failed to unmarshal input"), "{text}"),
        other => panic!("expected ERROR, found {other:?}"),
    }
    let mut bare = transaction("tx-bare", 0, "policy", &[b"x".to_vec()]);
    bare.proposal = None;
    match peer.run_one(bare, false, 0).await {
        Outcome::Error(text) => assert!(text.contains("signed proposal"), "{text}"),
        other => panic!("expected ERROR, found {other:?}"),
    }
    // No function name: a 400 response, so the peer fails the endorsement.
    let empty = ChaincodeMessage {
        proposal: transaction("tx-empty", 0, "x", &[]).proposal,
        ..message(Type::Transaction, "tx-empty", Vec::new())
    };
    let (status, _, text, _) = seen(peer.run_one(empty, false, 0).await);
    assert_eq!(
        (status, text.starts_with("bad_arguments: ")),
        (400, true),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_before_ready_ends_the_stream() {
    let addr = server().await;
    let (mut peer, first) = TestPeer::open(addr).await;
    assert_eq!(first.r#type, Type::Register as i32);
    peer.send(transaction("tx-early", 0, "policy", &[b"x".to_vec()]));
    let refused = peer.recv().await.unwrap();
    assert_eq!(refused.r#type, Type::Error as i32);
    assert!(String::from_utf8_lossy(&refused.payload).contains("Created"));
    assert!(peer.recv().await.is_err(), "the stream must end");
}

#[test]
fn the_environment_configures_the_server_like_the_official_shims() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let plain = ServerConfig::from_lookup(env(&[
        ("CHAINCODE_SERVER_ADDRESS", "0.0.0.0:9999"),
        ("CHAINCODE_ID", "cc:1"),
    ]))
    .unwrap();
    assert_eq!(plain.address.to_string(), "0.0.0.0:9999");
    assert_eq!(plain.chaincode_id, "cc:1");
    assert!(plain.tls.is_none());
    let tls = ServerConfig::from_lookup(env(&[
        ("CHAINCODE_SERVER_ADDRESS", "127.0.0.1:7052"),
        ("CORE_CHAINCODE_ID_NAME", "cc:2"),
        ("CHAINCODE_TLS_CERT", "/c.pem"),
        ("CHAINCODE_TLS_KEY", "/k.pem"),
        ("CHAINCODE_CLIENT_CA_CERT", "/ca.pem"),
    ]))
    .unwrap();
    let files = tls.tls.unwrap();
    assert_eq!(files.client_ca.unwrap().to_str(), Some("/ca.pem"));
    let err = |pairs| {
        ServerConfig::from_lookup(env(pairs))
            .unwrap_err()
            .to_string()
    };
    assert!(err(&[("CORE_CHAINCODE_ID_NAME", "cc")]).contains("CHAINCODE_SERVER_ADDRESS"));
    assert!(
        err(&[
            ("CHAINCODE_SERVER_ADDRESS", "peer:99"),
            ("CHAINCODE_ID", "c")
        ])
        .contains("numeric IP")
    );
    assert!(err(&[("CHAINCODE_SERVER_ADDRESS", "0.0.0.0:1")]).contains("CORE_CHAINCODE_ID_NAME"));
    assert!(
        err(&[
            ("CHAINCODE_SERVER_ADDRESS", "0.0.0.0:1"),
            ("CHAINCODE_ID", "c"),
            ("CHAINCODE_TLS_KEY", "/k.pem")
        ])
        .contains("CHAINCODE_TLS_CERT")
    );
}
