//! Login rate limits live in the database: two relays (two `TestApp`s, each
//! with its own state, pool and ledger, as two processes would have) on one
//! database share them, on SQLite and on PostgreSQL; a limited attempt gets
//! a 429 problem with `Retry-After`.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use actix_web::web;
use serde_json::{Value, json};

use carechain_api::db::limits::{self, Quota};
use carechain_api::state::{AppState, open_ledger};
use carechain_api::{app, db};

use crate::database::on_both_backends;
use crate::support::PgDatabase;
use crate::support::{self, ADMIN_PASSWORD, RelayApp, init_state, start_with, test_config};

/// One login attempt on `relay`: status, `Retry-After`, body.
async fn login(relay: &impl RelayApp, password: &str) -> (StatusCode, Option<u64>, Value) {
    let req = TestRequest::post()
        .uri("/v1/auth/login")
        .set_json(json!({"email": "admin@example.org", "password": password}));
    let reply = relay.answer(req).await;
    let retry = reply.header("retry-after").and_then(|v| v.parse().ok());
    (reply.status, retry, reply.body)
}

/// Two relays on `database_url` allowing 4 attempts a minute: attempts
/// alternate between them and the fifth overall is refused by both.
async fn two_relays_share_the_limit(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut first = test_config(&dir.path().join("a"));
    first.login_attempts_per_minute = 4;
    let url = database_url.unwrap_or_else(|| first.database_url());
    let (state, admin) = init_state(first, Some(url.clone())).await;
    let one = start_with(state, admin, None).await; // attempt 1 (the admin's login)

    let mut second = test_config(&dir.path().join("b"));
    second.login_attempts_per_minute = 4;
    std::fs::create_dir_all(&second.data_dir).unwrap();
    let pool = db::connect(&url, 2).unwrap();
    let ledger = open_ledger(&second).unwrap();
    let state2 = web::Data::new(AppState::new(second, pool, ledger, &[7u8; 32]));
    let two = actix_web::test::init_service(app::app(state2, app::metrics().unwrap())).await;

    assert_eq!(
        login(&two, "wrong-password").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&one.app, "wrong-password").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(&two, ADMIN_PASSWORD).await.0, StatusCode::OK); // attempt 4
    for (name, (status, retry, body)) in [
        ("first", login(&one.app, ADMIN_PASSWORD).await),
        ("second", login(&two, ADMIN_PASSWORD).await),
    ] {
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{name}: {body}");
        assert_eq!(body["type"], "https://carechain.dev/problems/rate_limited");
        // 4 a minute: one more every 15 s.
        let retry = retry.unwrap_or_else(|| panic!("{name}: no Retry-After"));
        assert!((1..=15).contains(&retry), "{name}: Retry-After {retry}");
    }
}

#[actix_web::test]
async fn two_relays_on_one_sqlite_database_share_the_login_limit() {
    two_relays_share_the_limit(None).await;
}

#[actix_web::test]
async fn two_relays_on_one_postgres_database_share_the_login_limit() {
    let Some(database) = PgDatabase::create() else {
        return;
    };
    two_relays_share_the_limit(Some(database.url.clone())).await;
}

/// The GCRA on the table: a burst, then one per interval; refusals do not count.
fn gcra(pool: &db::DbPool) {
    let mut conn = pool.get().unwrap();
    let conn = &mut *conn;
    let quota = Quota::per_minute(3); // 20 s apart, 3 at once
    let t = 1_000_000_000_000;
    for _ in 0..3 {
        assert_eq!(limits::take(conn, "k", quota, t).unwrap(), None);
    }
    assert_eq!(limits::take(conn, "k", quota, t).unwrap(), Some(20_000));
    assert_eq!(
        limits::take(conn, "k", quota, t + 5_000).unwrap(),
        Some(15_000)
    );
    assert_eq!(
        limits::take(conn, "other", quota, t).unwrap(),
        None,
        "keys are apart"
    );
    assert_eq!(limits::take(conn, "k", quota, t + 20_000).unwrap(), None);
    assert_eq!(
        limits::take(conn, "k", quota, t + 20_000).unwrap(),
        Some(20_000)
    );
    // After a quiet minute the whole burst is back, and the rows are stale.
    for _ in 0..3 {
        assert_eq!(limits::take(conn, "k", quota, t + 200_000).unwrap(), None);
    }
    assert_eq!(
        limits::sweep(conn, t + 200_000).unwrap(),
        1,
        "`other` is stale"
    );
}

on_both_backends!(the_limit_algorithm, 1, super::gcra);

#[actix_web::test]
async fn a_limited_login_says_when_to_retry() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::test_config(dir.path());
    config.login_attempts_per_minute = 1;
    let (state, admin) = init_state(config, None).await;
    let app = start_with(state, admin, Some(dir)).await; // the one attempt
    let (status, retry, _) = login(&app.app, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry = retry.unwrap();
    assert!((55..=60).contains(&retry), "Retry-After {retry}");
}
