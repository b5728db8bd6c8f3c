//! One suite of ledger behaviours run against both backends: the embedded
//! ledger, and the Fabric backend talking to a test peer's Gateway that runs
//! the same contract through the chaincode server. The same statements must
//! get the same answers (results, refusals with their status and code, claim
//! decisions), the same events in the same order, resumable from a block,
//! and the same audit trail.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../care/mod.rs"]
mod care;
mod fabric;
mod gateway;

use std::sync::Arc;
use std::time::Duration;

use care::{Care, decision};
use carechain_chaincode::CareChain;
use carechain_core::paillier::SecretKey;
use carechain_core::statement::{AccessAction, Action, MarkPaid, ReadRecord, Revoke, Role, Scope};
use carechain_fabric_testpeer::{NetworkOptions, TestNetwork};
use carechain_ledger::{
    ChaincodeEvent, EmbeddedLedger, EmbeddedOptions, Ledger, Proposal, SystemClock, TxMeta,
};
use futures::StreamExt;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// What one step of the story came to: `ok`, a claim decision, or a refusal.
type Answer = Result<String, (u16, String)>;

/// The answers of the story, in order.
#[derive(Debug, PartialEq)]
struct Transcript(Vec<(&'static str, Answer)>);

impl Transcript {
    fn push(&mut self, step: &'static str, outcome: care::Outcome) {
        let answer = outcome
            .map(|v| match v.get("decision") {
                Some(_) => format!("{:?}", decision(&v)),
                None => "ok".to_owned(),
            })
            .map_err(|e| (e.status, e.code));
        self.0.push((step, answer));
    }
}

/// The story: consent, a replayed statement, insurance, records, claims
/// (approved, already claimed, proof failed), payment, revoke, refused
/// reads, queries for something that does not exist.
fn story(c: &mut Care, sk: &Arc<SecretKey>) -> Transcript {
    let mut t = Transcript(Vec::new());
    let patient = c.patient(sk);
    let doctor = c.registered(Role::Doctor);
    let other_doctor = c.registered(Role::Doctor);
    let insurer = c.registered(Role::Insurer);
    let all = vec![AccessAction::Read, AccessAction::Write];
    let request = c.request(&doctor, &patient, all.clone(), Scope::All);
    let body = c.grant_body(&patient, &doctor, request, all, Scope::All, 7, &[]);
    let grant = c.token(&patient.key, Action::Grant(body));
    t.push("grant", c.submit_token(&grant));
    t.push("grant replayed", c.submit_token(&grant));
    let product = c.product(&insurer, &[("I10", 10_000), ("E11.9", 50_000)]);
    let policy = c.policy(&insurer, &patient, product);
    let record = c.write(&doctor, &patient, "E11.9");
    let other = c.write(&doctor, &patient, "I10");
    let read = Action::ReadRecord(ReadRecord { record });
    t.push("read", c.submit(&doctor, read.clone()));
    t.push("read without grant", c.submit(&other_doctor, read.clone()));
    let approved = c.claim(&patient, policy, record, 1);
    t.push("claim", approved.clone());
    t.push("claim again", c.claim(&patient, policy, record, 1));
    t.push("claim wrong item", c.claim(&patient, policy, other, 1));
    let claim = approved.unwrap()["claim"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let paid = |reference: &str| {
        Action::MarkPaid(MarkPaid {
            claim,
            reference: reference.into(),
        })
    };
    t.push("paid by the patient", c.submit(&patient, paid("wire-0")));
    t.push("paid", c.submit(&insurer, paid("wire-1")));
    t.push(
        "revoke",
        c.submit(&patient, Action::Revoke(Revoke { request })),
    );
    t.push("read after revoke", c.submit(&doctor, read));
    t.push("unknown policy", c.query("policy", &["no-such-policy"]));
    t.push("unknown function", c.query("no_such_query", &[]));
    let log = c.query("access_log", &[patient.id().as_str()]).unwrap();
    let reads = log["items"].as_array().map_or(0, Vec::len);
    assert_eq!(reads, 1, "the one read is logged: {log}");
    t.0.push(("access log entries", Ok(reads.to_string())));
    t
}

/// Every event from `from_block` until none arrives for a while.
async fn events(ledger: &dyn Ledger, from_block: u64) -> Vec<ChaincodeEvent> {
    let mut stream = ledger.events(from_block);
    let mut seen = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(700), stream.next()).await
    {
        seen.push(event.unwrap());
    }
    seen
}

/// What both backends must agree on, besides the transcript.
#[derive(Debug, PartialEq)]
struct Trail {
    /// `(action, creator, valid)` of every transaction, in commit order.
    transactions: Vec<(String, Option<String>, bool)>,
    /// Event names, in commit order.
    event_names: Vec<String>,
}

/// The trail of `ledger`, checking on the way what each backend must hold
/// on its own: events match valid transactions, a resumed stream gives
/// exactly the suffix, and the height is one past the last block.
async fn trail(ledger: &dyn Ledger) -> Trail {
    let height = ledger.height().await.unwrap();
    let metas: Vec<TxMeta> = ledger.transactions(0, height).await.unwrap();
    assert_eq!(
        metas.last().unwrap().block + 1,
        height,
        "height is one past the last block"
    );
    let all = events(ledger, 0).await;
    for event in &all {
        let tx = metas.iter().find(|m| m.tx_id == event.tx_id).unwrap();
        assert!(
            tx.valid && tx.block == event.block,
            "event of a committed transaction"
        );
    }
    // Resume from the block of the middle event: exactly the suffix, no repeats.
    let middle = all[all.len() / 2].block;
    let resumed = events(ledger, middle).await;
    let suffix: Vec<_> = all.iter().filter(|e| e.block >= middle).cloned().collect();
    assert_eq!(resumed, suffix);
    Trail {
        transactions: metas
            .into_iter()
            .map(|m| (m.action, m.creator, m.valid))
            .collect(),
        event_names: all.into_iter().map(|e| e.name).collect(),
    }
}

#[test]
fn both_backends_answer_the_same_story_the_same_way() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sk = Arc::new(SecretKey::generate(2048, &mut ChaCha20Rng::seed_from_u64(7)).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let embedded: Arc<dyn Ledger> = Arc::new(
        EmbeddedLedger::open(dir.path(), Arc::new(CareChain), EmbeddedOptions::default()).unwrap(),
    );
    let network = rt
        .block_on(TestNetwork::start(NetworkOptions::default()))
        .unwrap();
    let fabric: Arc<dyn Ledger> = Arc::new(rt.block_on(async { fabric::ledger(&network, |_| {}) }));

    let mut answers = Vec::new();
    let mut trails = Vec::new();
    for ledger in [embedded, fabric] {
        // Not initialised yet: both refuse a query the same way.
        let before = rt.block_on(ledger.evaluate(Proposal::new("policy", [b"p".to_vec()])));
        let refused = match before.unwrap_err() {
            carechain_ledger::LedgerError::Refused { status, code, .. } => (status, code),
            other => panic!("expected a refusal, found {other}"),
        };
        let mut c = Care::on(ledger.clone(), rt.handle().clone(), Arc::new(SystemClock));
        answers.push((refused, story(&mut c, &sk)));
        trails.push(rt.block_on(trail(ledger.as_ref())));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(trails[0], trails[1]);
    // The story is not trivial: refusals, decisions and events all occur.
    let (_, transcript) = &answers[0];
    assert!(
        transcript
            .0
            .iter()
            .any(|(_, a)| a.as_ref().is_err_and(|(s, _)| *s == 403))
    );
    assert!(
        transcript
            .0
            .iter()
            .any(|(_, a)| a.as_ref().is_ok_and(|s| s.contains("approved")))
    );
    assert!(
        trails[0].event_names.len() >= 10,
        "{:?}",
        trails[0].event_names
    );
}

/// A page of `products` through each backend: exactly `limit` items and the
/// cursor of the next page. Through the test peer the contract's list query
/// is a paginated `GET_STATE_BY_RANGE` (`QueryMetadata` page size, the
/// bookmark in `QueryResponseMetadata`) over the real chaincode server.
#[test]
fn both_backends_page_a_list_with_the_same_limits_and_cursors() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let embedded: Arc<dyn Ledger> = Arc::new(
        EmbeddedLedger::open(dir.path(), Arc::new(CareChain), EmbeddedOptions::default()).unwrap(),
    );
    let network = rt
        .block_on(TestNetwork::start(NetworkOptions::default()))
        .unwrap();
    let fabric: Arc<dyn Ledger> = Arc::new(rt.block_on(async { fabric::ledger(&network, |_| {}) }));
    let mut walks = Vec::new();
    for ledger in [embedded, fabric] {
        let mut c = Care::on(ledger, rt.handle().clone(), Arc::new(SystemClock));
        let insurer = c.registered(Role::Insurer);
        let mut made: Vec<String> = (0..5)
            .map(|_| c.product(&insurer, &[("I10", 100)]).to_string())
            .collect();
        made.sort();
        let mut seen = Vec::new();
        let mut cursors = Vec::new();
        let mut after = String::new();
        loop {
            let page = c.query("products", &[&after, "2"]).unwrap();
            let items = page["items"].as_array().unwrap();
            let next = page["next"].as_str().map(str::to_owned);
            // A full page names its last item as the cursor; a short one ends the list.
            assert_eq!(next.is_some(), items.len() == 2, "{page}");
            seen.extend(
                items
                    .iter()
                    .map(|p| p["product"].as_str().unwrap().to_owned()),
            );
            cursors.push(next.clone());
            match next {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(seen, made);
        assert_eq!(
            cursors,
            vec![Some(made[1].clone()), Some(made[3].clone()), None]
        );
        walks.push(cursors.len());
    }
    assert_eq!(walks[0], walks[1]);
}
