//! `Idempotency-Key` on ledger-bound POSTs: held in memory while the
//! statement is forwarded; retries answered from the ledger.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use carechain_api::db::{self, idempotency};
use carechain_core::statement::*;

use crate::support::start;
use crate::world::ok;

#[actix_web::test]
async fn one_key_sent_twice_at_once_forwards_the_statement_once_and_stores_nothing() {
    let mut app = start().await;
    let insurer = app.approved(Role::Insurer).await;
    let (product, act) = app.product_act("P", "E11");
    let body = json!({"statement": app.sign(&insurer.key, act)});
    let send = |key: &'static str| {
        app.send(
            Method::POST,
            "/v1/products",
            Some(&insurer.token),
            Some(body.clone()),
            Some(key),
        )
    };
    let (a, b) = futures::join!(send("twice"), send("twice"));
    // One ran; the other waited its turn (409) or was answered with the
    // first one's transaction, never committed a second time.
    let (first, second) = if a.status == StatusCode::CREATED && b.status != StatusCode::CREATED {
        (a, b)
    } else {
        (b, a)
    };
    ok(&first, StatusCode::CREATED);
    assert!(!first.replayed);
    assert!(
        second.status == StatusCode::CONFLICT
            || (second.status == StatusCode::CREATED && second.body == first.body),
        "the second request got {} {}",
        second.status,
        second.body
    );
    // Retries get the same answer, under the key or under a new one (as
    // after a restart, when the relay has forgotten the key): the ledger's.
    for key in ["twice", "after-a-restart"] {
        let again = send(key).await;
        ok(&again, StatusCode::CREATED);
        assert_eq!(again.body, first.body, "{key}");
        assert!(again.replayed, "{key}: marked Idempotent-Replayed");
    }
    // The relay stored no answer: the ledger holds it.
    let account = insurer.account.clone();
    let stored = db::run(&app.state.pool, move |c| {
        idempotency::get(c, &account, "twice")
    })
    .await
    .unwrap();
    assert!(stored.is_none(), "{stored:?}");
    let listed = app.get("/v1/products", &insurer.token).await;
    let ids: Vec<_> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["product"] == json!(product.to_string()))
        .collect();
    assert_eq!(ids.len(), 1);
}

/// `AppState::open` on SQLite locks the database: a second relay on the
/// same file is refused, and the first one's exit frees it.
#[actix_web::test]
async fn a_relay_owns_its_sqlite_database() {
    use carechain_api::config::Config;
    use carechain_api::state::AppState;

    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().join("relay"),
        ..Config::default()
    };
    let first = AppState::open(config.clone()).unwrap();
    // Another relay (its own ledger) on the same SQLite file.
    let other = Config {
        data_dir: dir.path().join("other"),
        database_url: Some(config.database_url()),
        ..Config::default()
    };
    let refused = AppState::open(other.clone()).err().unwrap().to_string();
    assert!(refused.contains("another relay process"), "{refused}");
    drop(first);
    AppState::open(other).unwrap();
}

#[actix_web::test]
async fn a_key_reused_with_another_body_is_refused_on_every_relay_sharing_the_database() {
    let Some(database) = crate::support::PgDatabase::create() else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let relay = |dir: &tempfile::TempDir| {
        crate::support::test_relay(crate::support::test_config(dir.path()))
            .database_url(database.url.clone())
    };
    let (state_a, admin) = crate::support::init_with(relay(&dir_a)).await;
    let state_b = actix_web::web::Data::new(relay(&dir_b).open().unwrap());
    let mut a = crate::support::start_with(state_a, admin, None).await;
    // B's own admin is never used: the accounts are A's, in the shared database.
    let unused = a.new_patient_keys(0);
    let b = crate::support::start_with(state_b, unused, None).await;
    let insurer = a.approved(Role::Insurer).await;
    let (_, act) = a.product_act("P", "E11");
    let first = json!({"statement": a.sign(&insurer.key, act)});
    let (_, act) = a.product_act("Q", "E11");
    let other = json!({"statement": a.sign(&insurer.key, act)});
    let post = |app_b: bool, body: &serde_json::Value| {
        let body = Some(body.clone());
        let token = Some(insurer.token.as_str());
        let key = Some("shared-key");
        if app_b {
            futures::future::Either::Left(b.send(Method::POST, "/v1/products", token, body, key))
        } else {
            futures::future::Either::Right(a.send(Method::POST, "/v1/products", token, body, key))
        }
    };
    ok(&post(false, &first).await, StatusCode::CREATED);
    // Relay B never saw the key, yet refuses its use with another body.
    let reused = post(true, &other).await;
    reused.assert_problem_of(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    // And on A, as before.
    let reused = post(false, &other).await;
    reused.assert_problem_of(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
}
