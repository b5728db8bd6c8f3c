//! Hostile and malformed input: always a 4xx problem, never a 5xx.

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use serde_json::json;

use carechain_api::auth::tokens::JwtKeys;
use carechain_api::types::AccountRole;
use carechain_core::statement::*;

use crate::support::{self, Reply, start};

#[track_caller]
fn problem(reply: &Reply, status: StatusCode, code: &str) {
    reply.assert_problem_of(status, code);
}

#[actix_web::test]
async fn malformed_bodies_and_routes_are_4xx_problems() {
    let mut app = start().await;
    let doctor = app.approved(carechain_core::statement::Role::Doctor).await;
    let token = doctor.token.clone();
    let broken = TestRequest::default()
        .method(Method::POST)
        .uri("/v1/requests")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Idempotency-Key", "x1"))
        .insert_header(("content-type", "application/json"))
        .set_payload("{\"statement\": ");
    problem(
        &app.raw(broken).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    let wrong_type = app
        .post("/v1/requests", Some(&token), json!({"statement": 42}))
        .await;
    problem(&wrong_type, StatusCode::BAD_REQUEST, "bad_request");
    let unknown_field = app
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "a@b", "password": "x", "admin": true}),
        )
        .await;
    problem(&unknown_field, StatusCode::BAD_REQUEST, "bad_request");
    let huge = "a".repeat(3 * 1024 * 1024);
    let oversized = app
        .post("/v1/requests", Some(&token), json!({"statement": huge}))
        .await;
    problem(
        &oversized,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    let garbage = app
        .post(
            "/v1/requests",
            Some(&token),
            json!({"statement": "not.a.jws"}),
        )
        .await;
    problem(&garbage, StatusCode::BAD_REQUEST, "bad_request");
    problem(
        &app.get("/v1/nothing-here", &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    problem(
        &app.get("/v1/requests?limit=0", &token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    problem(
        &app.get("/v1/requests?limit=abc", &token).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
}

#[actix_web::test]
async fn statements_must_be_the_callers_and_of_the_endpoints_kind_and_validly_signed() {
    let mut app = start().await;
    let doctor = app.approved(Role::Doctor).await;
    let other = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let token = doctor.token.clone();
    // Signed by another doctor, sent with this doctor's token.
    let another = app.read_request(&patient);
    let another = app.sign(&other.key, another);
    // The wrong action for the endpoint.
    let record = carechain_core::ids::RecordId::random(&mut app.rng);
    let wrong = app.sign(&doctor.key, Action::ReadRecord(ReadRecord { record }));
    // A bad signature: the ledger refuses, with its code.
    let tampered = app.read_request(&patient);
    let tampered = support::tamper(&app.sign(&doctor.key, tampered));
    for (statement, code) in [
        (another, "forbidden"),
        (wrong, "forbidden"),
        (tampered, "ledger/signature_invalid"),
    ] {
        let r = app
            .post_statement("/v1/requests", Some(&token), &statement)
            .await;
        problem(&r, StatusCode::FORBIDDEN, code);
    }
    // A statement sent again (under a new key, as after a relay restart) is
    // answered from the ledger with the transaction that ran it.
    let act = app.read_request(&patient);
    let statement = app.sign(&doctor.key, act);
    let first = app
        .post_statement("/v1/requests", Some(&token), &statement)
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let again = app
        .post_statement("/v1/requests", Some(&token), &statement)
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
    assert_eq!(again.body, first.body);
    // Another statement with its nonce: the ledger refuses it.
    let mut reused = Statement::peek(&statement).unwrap();
    reused.act = app.read_request(&patient);
    let reused = reused.sign(&doctor.key).unwrap();
    let r = app
        .post_statement("/v1/requests", Some(&token), &reused)
        .await;
    problem(&r, StatusCode::FORBIDDEN, "ledger/replayed_nonce");
}

#[actix_web::test]
async fn bad_expired_and_foreign_access_tokens_are_401() {
    let app = start().await;
    problem(
        &app.get("/v1/me", "garbage").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let now = carechain_api::db::now();
    let admin_token = |keys: &JwtKeys, issued_at| {
        keys.issue(
            &app.admin.account,
            AccountRole::Admin,
            None,
            None,
            issued_at,
        )
        .unwrap()
    };
    // Issued an hour ago; signed with another secret; for another audience.
    let expired = admin_token(&app.state.jwt, now - 3600);
    let foreign = admin_token(&JwtKeys::new(&[9u8; 32], "carechain-relay", 900), now);
    let other_aud = admin_token(&JwtKeys::new(&[7u8; 32], "another-relay", 900), now);
    // alg "none": header {"alg":"none"}.
    let none = format!(
        "eyJhbGciOiJub25lIn0.{}.",
        app.admin.token.split('.').nth(1).unwrap()
    );
    for token in [expired, foreign, other_aud, none] {
        problem(
            &app.get("/v1/me", &token).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
    let no_auth = app.send(Method::GET, "/v1/me", None, None, None).await;
    problem(&no_auth, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[actix_web::test]
async fn logins_are_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::test_config(dir.path());
    config.login_attempts_per_minute = 3;
    let (state, admin) = support::init_state(config, None).await;
    // The admin's correct login at start counts for nothing; failures do.
    let app = support::start_with(state, admin, Some(dir)).await;
    let body = json!({"email": "admin@example.org", "password": "wrong-password"});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.post_plain("/v1/auth/login", body.clone()).await.status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let r = app.post_plain("/v1/auth/login", body).await;
    problem(&r, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[actix_web::test]
async fn health_readiness_and_metrics_answer() {
    let app = start().await;
    let live = app.send(Method::GET, "/healthz", None, None, None).await;
    assert_eq!(live.status, StatusCode::OK);
    let ready = app.send(Method::GET, "/readyz", None, None, None).await;
    assert_eq!(ready.body["status"], "ok");
    let metrics = app.raw(TestRequest::get().uri("/metrics")).await;
    assert_eq!(metrics.status, StatusCode::OK);
}

#[actix_web::test]
async fn patient_registration_takes_only_a_self_signed_patient_registration() {
    let mut app = start().await;
    // A doctor's self-signed registration; a patient's signed by the admin.
    let doctor = app.signed_up(Role::Doctor).await;
    let by_doctor = app.sign(&doctor.key, doctor.register());
    let patient = app.new_patient_keys(0);
    let by_admin = app.sign_as_admin(patient.register());
    for (statement, status, code) in [
        (by_doctor.as_str(), StatusCode::FORBIDDEN, "forbidden"),
        (by_admin.as_str(), StatusCode::FORBIDDEN, "forbidden"),
        ("x.y.z", StatusCode::BAD_REQUEST, "bad_request"),
    ] {
        let r = app.post_statement("/v1/patients", None, statement).await;
        problem(&r, status, code);
    }
}
