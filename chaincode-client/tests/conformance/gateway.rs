//! What only the Fabric backend has to get right, against the test peer:
//! TLS with a server-name override, the MSP identity check, retries of
//! transient failures, deadlines, read conflicts (reported, or re-run to the
//! answer the embedded backend gives), an event stream that resumes after
//! the peer's gateway restarts, and committed transactions looked up by id.

use std::sync::Arc;
use std::time::Duration;

use carechain_core::statement::{Action, Role};
use carechain_fabric_testpeer::{Failure, NetworkOptions, TestNetwork};
use carechain_ledger::{CommittedTx, Ledger, LedgerError, Proposal};
use futures::StreamExt;

use crate::fabric::{ledger, ledger_as};
use carechain_testkit::fabric::world_on;
use carechain_testkit::ledger::runtime;
use carechain_testkit::{LedgerDriver, World};

/// A runtime, a plain test network, and the contract initialised on it.
fn started() -> (tokio::runtime::Runtime, TestNetwork, World<LedgerDriver>) {
    let rt = runtime();
    let network = rt
        .block_on(TestNetwork::start(NetworkOptions::default()))
        .unwrap();
    let fabric = Arc::new(rt.block_on(async { ledger(&network, |_| {}) }));
    let care = world_on(fabric, &rt);
    (rt, network, care)
}

fn policy_query() -> Proposal {
    Proposal::new("policy", [b"no-such-policy".to_vec()])
}

fn endorsements(network: &TestNetwork) -> usize {
    network
        .received()
        .iter()
        .filter(|r| r.starts_with("Endorse"))
        .count()
}

#[test]
fn tls_needs_the_peer_name_and_the_peer_needs_a_known_identity() {
    let rt = runtime();
    let network = rt
        .block_on(TestNetwork::start(NetworkOptions {
            tls: true,
            ..NetworkOptions::default()
        }))
        .unwrap();
    assert!(network.endpoint().starts_with("https://127.0.0.1:"));
    rt.block_on(async {
        // With the override the TLS session is made and the contract answers.
        let fabric = ledger(&network, |_| {});
        let refused = fabric.evaluate(policy_query()).await.unwrap_err();
        assert!(
            matches!(refused, LedgerError::Refused { status: 404, ref code, .. } if code == "not_found"),
            "{refused}"
        );
        // Without it the certificate (for peer0.org1.example.com) does not
        // match 127.0.0.1: the connection fails, after the retries.
        let unnamed = ledger(&network, |c| {
            c.server_name_override = None;
            c.retries = 1;
        });
        let failed = unnamed.evaluate(policy_query()).await.unwrap_err();
        assert!(matches!(failed, LedgerError::Unavailable(_)), "{failed}");
        // A certificate from a CA the channel does not know is refused by
        // the peer, not retried, and says why.
        let foreign = ledger_as(&network, &TestNetwork::foreign_identity(), |_| {});
        let before = endorsements(&network);
        let denied = foreign.evaluate(policy_query()).await.unwrap_err();
        assert!(
            matches!(denied, LedgerError::Gateway { call: "Evaluate", ref code, .. } if code == "FailedPrecondition"),
            "{denied}"
        );
        assert!(denied.to_string().contains("access denied"), "{denied}");
        assert_eq!(endorsements(&network), before, "Evaluate is not Endorse");
    });
}

#[test]
fn transient_failures_are_retried_and_deadlines_hold() {
    let (rt, network, mut c) = started();
    let doctor = c.new_actor(Role::Doctor, None);
    let register = c.token_as_admin(Action::RegisterIdentity(doctor.registration()));
    rt.block_on(async {
        let fabric = ledger(&network, |c| c.retries = 2);
        // Two failed endorsements, then the third attempt commits.
        network.fail_next_endorsements(1, Failure::Unavailable);
        network.fail_next_endorsements(1, Failure::PeerError);
        let before = endorsements(&network);
        let committed = fabric
            .submit(Proposal::new("submit", [register.clone().into_bytes()]))
            .await
            .unwrap();
        assert!(committed.block >= 1);
        // Three Endorse calls reached the gateway: two failed, one endorsed.
        assert_eq!(endorsements(&network) - before, 3);
        // More failures than retries: the last one is returned.
        network.fail_next_endorsements(3, Failure::Unavailable);
        let down = fabric.evaluate(policy_query()).await.unwrap_err();
        assert!(matches!(down, LedgerError::Unavailable(_)), "{down}");
        // A hung endorser: the evaluate deadline, not the peer's 30 s.
        let hasty = ledger(&network, |c| c.deadlines.evaluate = Duration::from_millis(300));
        network.fail_next_endorsements(1, Failure::Timeout);
        let started = std::time::Instant::now();
        let late = hasty.evaluate(policy_query()).await.unwrap_err();
        assert!(matches!(late, LedgerError::Timeout { ref during, .. } if during == "Evaluate"), "{late}");
        assert!(started.elapsed() < Duration::from_secs(10));
        // The replayed statement is the contract's refusal, as in-process.
        let replay = fabric
            .submit(Proposal::new("submit", [register.into_bytes()]))
            .await
            .unwrap_err();
        assert!(
            matches!(replay, LedgerError::Refused { status: 403, ref code, .. } if code == "replayed_nonce"),
            "{replay}"
        );
    });
}

#[test]
fn a_read_conflict_is_reported_or_run_again_to_the_contract_answer() {
    let (rt, network, mut c) = started();
    let strict = rt.block_on(async { ledger(&network, |c| c.conflict_retries = 0) });
    let patient = rt.block_on(async { ledger(&network, |_| {}) });
    fn submit<'a>(
        ledger: &'a carechain_ledger::fabric::FabricLedger,
        token: &str,
    ) -> impl std::future::Future<Output = Result<carechain_ledger::Committed, LedgerError>> + 'a
    {
        ledger.submit(Proposal::new("submit", [token.as_bytes().to_vec()]))
    }
    let mut conflicts = 0;
    let mut reruns = 0;
    for _ in 0..10 {
        // Two statements registering the same doctor, submitted together:
        // both read the absent identity; the second to commit conflicts.
        let doctor = c.new_actor(Role::Doctor, None);
        let tokens: Vec<String> = (0..4)
            .map(|_| c.token_as_admin(Action::RegisterIdentity(doctor.registration())))
            .collect();
        let (a, b) = rt.block_on(async {
            tokio::join!(submit(&strict, &tokens[0]), submit(&strict, &tokens[1]))
        });
        let (ok, other) = if a.is_ok() { (a, b) } else { (b, a) };
        ok.unwrap();
        match other.unwrap_err() {
            LedgerError::NotCommitted {
                tx_id,
                validation_code,
            } => {
                assert_eq!(validation_code, "MVCC_READ_CONFLICT");
                // It stays in its block, invalid: not a committed transaction.
                let found = rt.block_on(strict.transaction(&tx_id)).unwrap();
                assert_eq!(found, None, "the invalidated {tx_id}");
                conflicts += 1;
            }
            // Endorsed after the first committed: refused like in-process.
            LedgerError::Refused { status: 409, .. } => {}
            e => panic!("expected a conflict or a refusal, found {e}"),
        }
        // With re-runs the loser is executed again and refused as a
        // duplicate, exactly as the embedded backend answers.
        let again = c.new_actor(Role::Doctor, None);
        let t: Vec<String> = (0..2)
            .map(|_| c.token_as_admin(Action::RegisterIdentity(again.registration())))
            .collect();
        let (a, b) =
            rt.block_on(async { tokio::join!(submit(&patient, &t[0]), submit(&patient, &t[1])) });
        let outcomes = [a, b];
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, Err(LedgerError::Refused { status: 409, .. })))
        );
        reruns += 1;
        if conflicts > 0 {
            break;
        }
    }
    assert!(
        conflicts > 0,
        "no read conflict in {reruns} concurrent pairs"
    );
}

#[test]
fn a_committed_transaction_is_found_by_its_id_with_its_proposal() {
    let (rt, network, mut c) = started();
    let proposals: Vec<Proposal> = (0..2)
        .map(|_| {
            let doctor = c.new_actor(Role::Doctor, None);
            let token = c.token_as_admin(Action::RegisterIdentity(doctor.registration()));
            Proposal::new("submit", [token.into_bytes()])
        })
        .collect();
    rt.block_on(async {
        let fabric = ledger(&network, |_| {});
        let mut committed = Vec::new();
        for proposal in &proposals {
            committed.push(fabric.submit(proposal.clone()).await.unwrap());
        }
        assert!(committed[0].block < committed[1].block);
        assert!(committed.iter().all(|c| !c.payload.is_empty()));
        for (proposal, committed) in proposals.iter().zip(&committed) {
            let found = fabric.transaction(&committed.tx_id).await.unwrap();
            assert_eq!(
                found,
                Some(CommittedTx {
                    proposal: proposal.clone(),
                    committed: committed.clone(),
                })
            );
        }
        // An id the peer's index does not hold: none, not an error.
        let unknown = "0".repeat(64);
        assert_eq!(fabric.transaction(&unknown).await.unwrap(), None);
    });
}

#[test]
fn the_event_stream_resumes_after_the_gateway_restarts() {
    let rt = runtime();
    let mut network = rt
        .block_on(TestNetwork::start(NetworkOptions::default()))
        .unwrap();
    let fabric = Arc::new(rt.block_on(async { ledger(&network, |_| {}) }));
    let mut c = world_on(fabric.clone(), &rt);
    let first = c.registered(Role::Doctor);
    let mut stream = fabric.events(0);
    let next = |stream: &mut futures::stream::BoxStream<'static, _>| {
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), stream.next()).await })
            .expect("an event in time")
            .expect("the stream goes on")
    };
    // Genesis registers the admin, then the first doctor.
    let seen: Vec<carechain_ledger::ChaincodeEvent> =
        (0..2).map(|_| next(&mut stream).unwrap()).collect();
    assert!(seen.iter().all(|e| e.name == "identity_registered"));
    rt.block_on(network.stop_gateway());
    // While the gateway is down, nothing arrives and nothing is lost.
    let quiet = rt
        .block_on(async { tokio::time::timeout(Duration::from_millis(500), stream.next()).await });
    assert!(quiet.is_err(), "no event while the gateway is down");
    rt.block_on(network.restart_gateway()).unwrap();
    let second = c.registered(Role::Doctor);
    let third = c.registered(Role::Doctor);
    let after: Vec<_> = (0..2).map(|_| next(&mut stream).unwrap()).collect();
    assert!(
        after.iter().all(|e| e.block > seen[1].block),
        "no repeats: {after:?}"
    );
    let ids: Vec<String> = after
        .iter()
        .map(|e| String::from_utf8_lossy(&e.payload).into_owned())
        .collect();
    assert!(ids[0].contains(second.id().as_str()), "{ids:?}");
    assert!(ids[1].contains(third.id().as_str()), "{ids:?}");
    assert!(!ids.iter().any(|p| p.contains(first.id().as_str())));
    // Closing the ledger ends the stream.
    fabric.close();
    let end =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), stream.next()).await });
    assert!(
        matches!(end, Ok(None)),
        "the stream ends when the ledger closes"
    );
}
