//! `Idempotency-Key` on ledger-bound POSTs: held in memory while the
//! statement is forwarded, its response stored after the answer.

use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use carechain_api::db::{self, idempotency};
use carechain_core::statement::*;

use crate::support::start;
use crate::world::ok;

#[actix_web::test]
async fn one_key_sent_twice_at_once_forwards_the_statement_once_and_stores_its_answer() {
    let mut app = start().await;
    let insurer = app.approved(Role::Insurer).await;
    let (product, act) = app.product_act("P", "E11");
    let body = json!({"statement": app.sign(&insurer.key, act)});
    let send = || {
        app.send(
            Method::POST,
            "/v1/products",
            Some(&insurer.token),
            Some(body.clone()),
            Some("twice"),
        )
    };
    let (a, b) = futures::join!(send(), send());
    // One ran; the other waited its turn (409) or was answered with the
    // first one's response, never forwarded a second time (which the
    // contract would refuse as a replayed nonce, 403).
    let (first, second) = if a.status == StatusCode::CREATED && b.status != StatusCode::CREATED {
        (a, b)
    } else {
        (b, a)
    };
    ok(&first, StatusCode::CREATED);
    assert!(
        second.status == StatusCode::CONFLICT
            || (second.status == StatusCode::CREATED && second.body == first.body),
        "the second request got {} {}",
        second.status,
        second.body
    );

    // Retries get the same answer, from memory or from the stored record.
    let again = send().await;
    ok(&again, StatusCode::CREATED);
    assert_eq!(again.body, first.body);

    // The response is stored durably shortly after the answer.
    let account = insurer.account.clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    let stored = loop {
        let account = account.clone();
        let stored = db::run(&app.state.pool, move |c| {
            idempotency::get(c, &account, "twice")
        })
        .await
        .unwrap();
        if stored.is_some() || Instant::now() > deadline {
            break stored.expect("the response is stored within 10 s");
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(stored.status, idempotency::DONE);
    assert_eq!(stored.status_code, 201);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored.response_body).unwrap(),
        first.body
    );
    let listed = app.get("/v1/products", &insurer.token).await;
    let ids: Vec<_> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["product"] == json!(product.to_string()))
        .collect();
    assert_eq!(ids.len(), 1);
}

/// `AppState::open` on SQLite locks the database and loads every stored key
/// into the filter, so a retry after a restart still reads its record; a
/// second relay on the same database is refused.
#[actix_web::test]
async fn a_restarted_relay_knows_the_stored_keys_and_owns_its_database() {
    use carechain_api::config::Config;
    use carechain_api::db::models::IdempotencyRecord;
    use carechain_api::state::AppState;

    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().join("relay"),
        ..Config::default()
    };
    let first = AppState::open(config.clone()).unwrap();
    for i in 0..3 {
        let record = IdempotencyRecord {
            account_id: "acct".into(),
            idem_key: format!("k{i}"),
            request_hash: "h".into(),
            status: idempotency::DONE.into(),
            status_code: 201,
            response_body: "{}".into(),
            created_at: db::now(),
        };
        let mut conn = first.pool.get().unwrap();
        assert!(idempotency::claim(&mut conn, &record).unwrap());
    }

    // Another relay (its own ledger) on the same SQLite file.
    let other = Config {
        data_dir: dir.path().join("other"),
        database_url: Some(config.database_url()),
        ..Config::default()
    };
    let refused = AppState::open(other).err().unwrap().to_string();
    assert!(refused.contains("another relay process"), "{refused}");

    drop(first);
    let second = AppState::open(config).unwrap();
    for i in 0..3 {
        assert!(
            second.known.may_hold("acct", &format!("k{i}")),
            "k{i} was stored"
        );
    }
    // About 1% false positives each: five misses in a row are certain enough.
    assert!(
        (0..5).any(|i| !second.known.may_hold("acct", &format!("never-{i}"))),
        "the filter must not hold every key"
    );
}
