//! Login rate limits live in the database: two relays (two `TestApp`s, each
//! with its own state, pool and ledger, as two processes would have) on one
//! database share them, on SQLite and on PostgreSQL; a limited attempt gets
//! a 429 problem with `Retry-After`. Only failures count, per account from
//! one client: correct logins always pass, and an attacker's failures from
//! one address never refuse the owner at another.

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
    login_from(relay, "192.0.2.1:40000", password).await
}

/// One login attempt on `relay` from client address `from`.
async fn login_from(
    relay: &impl RelayApp,
    from: &str,
    password: &str,
) -> (StatusCode, Option<u64>, Value) {
    let req = TestRequest::post()
        .uri("/v1/auth/login")
        .peer_addr(from.parse().unwrap())
        .set_json(json!({"email": "admin@example.org", "password": password}));
    let reply = relay.answer(req).await;
    let retry = reply.header("retry-after").and_then(|v| v.parse().ok());
    (reply.status, retry, reply.body)
}

/// Two relays on `database_url` allowing 4 failures a minute: failures
/// alternate between them, and then even the right password from that
/// client is refused by both.
async fn two_relays_share_the_limit(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut first = test_config(&dir.path().join("a"));
    first.login_attempts_per_minute = 4;
    let url = database_url.unwrap_or_else(|| first.database_url());
    let (state, admin) = init_state(first, Some(url.clone())).await;
    let one = start_with(state, admin, None).await; // a correct login: no failure

    let mut second = test_config(&dir.path().join("b"));
    second.login_attempts_per_minute = 4;
    std::fs::create_dir_all(&second.data_dir).unwrap();
    let pool = db::connect(&url, 2).unwrap();
    let ledger = open_ledger(&second).unwrap();
    let state2 = web::Data::new(AppState::new(second, pool, ledger, &[7u8; 32]));
    let two = actix_web::test::init_service(app::app(state2, app::metrics().unwrap())).await;

    for round in 0..2 {
        assert_eq!(
            login(&two, "wrong-password").await.0,
            StatusCode::UNAUTHORIZED,
            "{round}"
        );
        assert_eq!(
            login(&one.app, "wrong-password").await.0,
            StatusCode::UNAUTHORIZED,
            "{round}"
        );
    }
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
    let app = support::start_configured(|config| config.login_attempts_per_minute = 1).await;
    assert_eq!(
        login(&app.app, "wrong-password").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, retry, _) = login(&app.app, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry = retry.unwrap();
    assert!((55..=60).contains(&retry), "Retry-After {retry}");
}

/// The default 5 failures a minute per account and client.
fn default_limits(config: &mut carechain_api::config::Config) {
    config.login_attempts_per_minute =
        carechain_api::config::Config::default().login_attempts_per_minute;
    assert_eq!(config.login_attempts_per_minute, 5);
}

#[actix_web::test]
async fn correct_logins_from_one_address_are_never_limited() {
    let app = support::start_configured(default_limits).await;
    for n in 0..8 {
        let (status, _, body) = login_from(&app.app, "198.51.100.7:5000", ADMIN_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "login {n}: {body}");
    }
}

#[actix_web::test]
async fn an_attackers_failures_do_not_lock_the_owner_out() {
    let app = support::start_configured(default_limits).await;
    let attacker = "203.0.113.66:6000";
    for n in 0..5 {
        let (status, _, body) = login_from(&app.app, attacker, "wrong-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {n}: {body}");
    }
    // The attacker's address is limited, whatever it sends...
    for password in ["wrong-password", ADMIN_PASSWORD] {
        let (status, retry, body) = login_from(&app.app, attacker, password).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert!(retry.is_some_and(|s| (1..=12).contains(&s)), "{retry:?}");
    }
    // ...the owner's is not: a typo is a plain 401, the password passes.
    let owner = "198.51.100.7:5000";
    assert_eq!(
        login_from(&app.app, owner, "wrong-password").await.0,
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..3 {
        assert_eq!(
            login_from(&app.app, owner, ADMIN_PASSWORD).await.0,
            StatusCode::OK
        );
    }
}

#[actix_web::test]
async fn one_address_failing_on_many_accounts_is_limited() {
    let app = support::start_configured(default_limits).await;
    let from = "203.0.113.67:6000";
    // 4 failures on each of 5 accounts: under the per-account limit, but the
    // client's 20 failures a minute are used up.
    for account in 0..5 {
        for _ in 0..4 {
            let req = TestRequest::post()
                .uri("/v1/auth/login")
                .peer_addr(from.parse().unwrap())
                .set_json(json!({"email": format!("nobody{account}@example.org"), "password": "wrong-password"}));
            assert_eq!(app.app.answer(req).await.status, StatusCode::UNAUTHORIZED);
        }
    }
    assert_eq!(
        login_from(&app.app, from, "wrong-password").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app.app, "198.51.100.7:5000", ADMIN_PASSWORD)
            .await
            .0,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn correct_patient_logins_from_one_address_are_never_limited() {
    let mut app = support::start_configured(default_limits).await;
    let patient = app.patient(0).await;
    for _ in 0..8 {
        let (access, _) = app.patient_login(&patient).await;
        assert!(!access.is_empty());
    }
}
