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
