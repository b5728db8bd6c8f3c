//! End-to-end: the real `carechain-relay` binary (one per backend, shared by
//! every scenario), driven through its HTTP API and the phone's library.
//! Each scenario has its own actors and runs concurrently with the others;
//! every failing scenario is reported by name.

mod claims;
mod grants;
mod http;
mod insurer;
mod phone;
mod relay;
mod staff;
mod story;
mod world;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use relay::{Backend, Relay};

type Scenario = fn(Arc<Relay>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// `(name, scenario)` for each `module::function`, named after the function.
macro_rules! scenarios {
    ($($module:ident::$name:ident),* $(,)?) => {
        [$((stringify!($name), (|r| Box::pin($module::$name(r))) as Scenario)),*]
    };
}

/// Every scenario, by name.
const SCENARIOS: [(&str, Scenario); 11] = scenarios![
    story::whole_story,
    insurer::insurer_never_sees_a_record,
    insurer::no_policy_with_a_wrong_ciphertext,
    grants::revoked_grant_refuses_reads,
    grants::expired_grant_refuses_reads,
    grants::a_later_grant_opens_earlier_records,
    grants::no_write_without_a_write_grant,
    claims::replayed_claim_takes_effect_once,
    claims::double_claim_rejected,
    claims::out_of_term_record_rejected,
    claims::forged_proof_rejected,
];

/// Starts a relay on `backend`, runs every scenario (or those whose name
/// contains `CARECHAIN_E2E_ONLY`) against it, and fails naming each failure.
async fn run_all(backend: Backend) {
    let started = Instant::now();
    let Some(relay) = Relay::start(backend) else {
        return;
    };
    let relay = Arc::new(relay);
    eprintln!("{backend:?}: relay ready in {:.1?}", started.elapsed());
    let only = std::env::var("CARECHAIN_E2E_ONLY").unwrap_or_default();
    let tasks: Vec<_> = SCENARIOS
        .iter()
        .filter(|(name, _)| name.contains(&only))
        .map(|(name, scenario)| {
            let relay = relay.clone();
            let task = tokio::spawn(async move {
                let begun = Instant::now();
                scenario(relay).await;
                begun.elapsed()
            });
            (*name, task)
        })
        .collect();
    let mut failed = Vec::new();
    for (name, task) in tasks {
        match task.await {
            Ok(took) => eprintln!("{backend:?}: {name} passed in {took:.1?}"),
            Err(err) => {
                eprintln!("{backend:?}: {name} FAILED: {err}");
                failed.push(name);
            }
        }
    }
    eprintln!("{backend:?}: all scenarios in {:.1?}", started.elapsed());
    assert!(
        failed.is_empty(),
        "{backend:?}: failed scenarios {failed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_on_sqlite_and_the_embedded_ledger() {
    run_all(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_on_postgresql_and_the_embedded_ledger() {
    run_all(Backend::Postgres).await;
}
