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

/// Answers stored by relays before answers came from the ledger are
/// replayed as stored, and bind their key to their request.
#[actix_web::test]
async fn an_answer_stored_by_an_earlier_relay_is_replayed() {
    use carechain_api::db::models::IdempotencyRecord;

    let mut app = start().await;
    let insurer = app.approved(Role::Insurer).await;
    let (_, act) = app.product_act("P", "E11");
    let body = json!({"statement": app.sign(&insurer.key, act)});
    let (_, act) = app.product_act("Q", "E11");
    let other = json!({"statement": app.sign(&insurer.key, act)});
    let hash = {
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"POST /v1/products\0");
        hasher.update(serde_json::to_vec(&body).unwrap());
        hex::encode(hasher.finalize())
    };
    let record = IdempotencyRecord {
        account_id: insurer.account.clone(),
        idem_key: "old".into(),
        request_hash: hash,
        status: idempotency::DONE.into(),
        status_code: 201,
        response_body: r#"{"stored":true}"#.into(),
        created_at: db::now(),
    };
    app.state.known.insert(&insurer.account, "old");
    let mut conn = app.state.pool.get().unwrap();
    assert!(idempotency::claim(&mut conn, &record).unwrap());
    drop(conn);
    let send = |body: serde_json::Value| {
        app.send(
            Method::POST,
            "/v1/products",
            Some(&insurer.token),
            Some(body),
            Some("old"),
        )
    };
    let replayed = send(body).await;
    ok(&replayed, StatusCode::CREATED);
    assert_eq!(replayed.body, json!({"stored": true}));
    let other = send(other).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{other:?}");
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
