//! Hostile and malformed input: always a 4xx problem, never a 5xx.

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use serde_json::json;

use carechain_api::types::AccountRole;
use carechain_core::statement::*;

use crate::support::{self, start};

#[track_caller]
fn problem(reply: &support::Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.content_type, "application/problem+json", "{reply:?}");
    assert_eq!(
        reply.body["type"],
        format!("https://carechain.dev/problems/{code}"),
        "{reply:?}"
    );
    assert_eq!(reply.body["status"], status.as_u16());
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
    let act = |app: &mut support::TestApp<_>| {
        Action::AccessRequest(AccessRequest {
            request: carechain_core::ids::RequestId::random(&mut app.rng),
            patient: patient.id(),
            actions: vec![AccessAction::Read],
            scope: Scope::All,
            purpose: PurposeOfUse::Treat,
            duration_secs: 86_400,
        })
    };
    // Signed by another doctor, sent with this doctor's token.
    let a = act(&mut app);
    let statement = app.sign(&other.key, a);
    let token = doctor.token.clone();
    let r = app
        .post(
            "/v1/requests",
            Some(&token),
            json!({"statement": statement}),
        )
        .await;
    problem(&r, StatusCode::FORBIDDEN, "forbidden");
    // The wrong action for the endpoint.
    let record = carechain_core::ids::RecordId::random(&mut app.rng);
    let statement = app.sign(&doctor.key, Action::ReadRecord(ReadRecord { record }));
    let r = app
        .post(
            "/v1/requests",
            Some(&token),
            json!({"statement": statement}),
        )
        .await;
    problem(&r, StatusCode::FORBIDDEN, "forbidden");
    // A bad signature: the ledger refuses, with its code.
    let a = act(&mut app);
    let statement = support::tamper(&app.sign(&doctor.key, a));
    let r = app
        .post(
            "/v1/requests",
            Some(&token),
            json!({"statement": statement}),
        )
        .await;
    problem(&r, StatusCode::FORBIDDEN, "signature_invalid");
    // A statement sent again (under a new key, as after a relay restart) is
    // answered from the ledger with the transaction that ran it.
    let a = act(&mut app);
    let statement = app.sign(&doctor.key, a);
    let body = json!({ "statement": statement });
    let first = app.post("/v1/requests", Some(&token), body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let again = app.post("/v1/requests", Some(&token), body).await;
    assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
    assert_eq!(again.body, first.body);
    // Another statement with its nonce: the ledger refuses it.
    let mut reused = Statement::peek(&statement).unwrap();
    reused.act = act(&mut app);
    let reused = reused.sign(&doctor.key).unwrap();
    let r = app
        .post("/v1/requests", Some(&token), json!({ "statement": reused }))
        .await;
    problem(&r, StatusCode::FORBIDDEN, "replayed_nonce");
}

#[actix_web::test]
async fn bad_expired_and_foreign_access_tokens_are_401() {
    let app = start().await;
    problem(
        &app.get("/v1/me", "garbage").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let expired = app
        .state
        .jwt
        .issue(
            &app.admin.account,
            AccountRole::Admin,
            None,
            carechain_api::db::now() - 3600,
        )
        .unwrap();
    problem(
        &app.get("/v1/me", &expired).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let foreign = carechain_api::auth::tokens::JwtKeys::new(&[9u8; 32], "carechain-relay", 900)
        .issue(
            &app.admin.account,
            AccountRole::Admin,
            None,
            carechain_api::db::now(),
        )
        .unwrap();
    problem(
        &app.get("/v1/me", &foreign).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let other_aud = carechain_api::auth::tokens::JwtKeys::new(&[7u8; 32], "another-relay", 900)
        .issue(
            &app.admin.account,
            AccountRole::Admin,
            None,
            carechain_api::db::now(),
        )
        .unwrap();
    problem(
        &app.get("/v1/me", &other_aud).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    // alg "none": header {"alg":"none"}.
    let none = format!(
        "eyJhbGciOiJub25lIn0.{}.",
        app.admin.token.split('.').nth(1).unwrap()
    );
    problem(
        &app.get("/v1/me", &none).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let no_auth = app.send(Method::GET, "/v1/me", None, None, None).await;
    problem(&no_auth, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[actix_web::test]
async fn logins_are_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::test_config(dir.path());
    config.login_attempts_per_minute = 3;
    let (state, admin) = support::init_state(config, None).await;
    let app = support::start_with(state, admin, Some(dir)).await; // uses 1 attempt
    let body = json!({"email": "admin@example.org", "password": "wrong-password"});
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            app.send(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(body.clone()),
                None,
            )
            .await
            .status,
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let r = app
        .send(Method::POST, "/v1/auth/login", None, Some(body), None)
        .await;
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
    let doctor = app.signed_up(Role::Doctor).await;
    let statement = app.sign(&doctor.key, Action::RegisterIdentity(doctor.registration()));
    let r = app
        .post("/v1/patients", None, json!({ "statement": statement }))
        .await;
    problem(&r, StatusCode::FORBIDDEN, "forbidden");
    let patient = app.new_patient_keys(0);
    let admin_key =
        carechain_core::identity::SigningKey::from_bytes(app.admin.key.to_bytes().as_slice())
            .unwrap();
    let statement = app.sign(&admin_key, Action::RegisterIdentity(patient.registration()));
    let r = app
        .post("/v1/patients", None, json!({ "statement": statement }))
        .await;
    problem(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = app
        .post("/v1/patients", None, json!({ "statement": "x.y.z" }))
        .await;
    problem(&r, StatusCode::BAD_REQUEST, "bad_request");
}
