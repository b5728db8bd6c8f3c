//! Rate limits on account creation: doctor and insurer sign-ups and patient
//! registrations, per client address and in all, answered 429 with
//! `Retry-After`; other clients are unaffected until the global limit.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::{Value, json};

use carechain_core::statement::Role;

use crate::support::{self, RelayApp, Reply};

/// Allows 2 creations per client and 3 in all, per hour.
fn creation_limits(config: &mut carechain_api::config::Config) {
    config.signups_per_client_per_hour = 2;
    config.signups_per_hour = 3;
    config.patient_registrations_per_client_per_hour = 2;
    config.patient_registrations_per_hour = 3;
}

/// POSTs `body` to `path` from client address `from` with a fresh idempotency key.
async fn post_from(app: &impl RelayApp, path: &str, from: &str, body: Value) -> Reply {
    let req = TestRequest::post()
        .uri(path)
        .peer_addr(from.parse().unwrap())
        .insert_header(("Idempotency-Key", uuid::Uuid::new_v4().to_string()))
        .set_json(body);
    app.answer(req).await
}

#[track_caller]
fn limited(reply: &Reply) {
    reply.assert_problem_of(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = reply
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {reply:?}"));
    // 2 an hour per client: one more every 30 min; 3 in all: every 20 min.
    assert!((1..=1800).contains(&retry), "Retry-After {retry}");
}

#[actix_web::test]
async fn sign_ups_are_limited_per_client_and_in_all() {
    let mut app = support::start_configured(creation_limits).await;
    let mut sign_up = |n: usize| {
        let mut actor = app.new_actor(Role::Doctor, None);
        actor.email = format!("doctor{n}@example.org");
        actor.sign_up()
    };
    let bodies: Vec<Value> = (0..5).map(&mut sign_up).collect();
    let a = "198.51.100.1:1000";
    for body in &bodies[..2] {
        let reply = post_from(&app.app, "/v1/accounts", a, body.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }
    limited(&post_from(&app.app, "/v1/accounts", a, bodies[2].clone()).await);
    // Another client still gets the third sign-up of the hour...
    let b = "198.51.100.2:1000";
    let reply = post_from(&app.app, "/v1/accounts", b, bodies[2].clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    // ...and then everyone is refused: the admin's queue holds three.
    limited(
        &post_from(
            &app.app,
            "/v1/accounts",
            "198.51.100.3:1000",
            bodies[3].clone(),
        )
        .await,
    );
    let pending = app
        .get("/v1/admin/accounts?status=pending", &app.admin.token)
        .await;
    assert_eq!(
        pending.body["items"].as_array().map(Vec::len),
        Some(3),
        "{pending:?}"
    );
}

#[actix_web::test]
async fn patient_registrations_are_limited_per_client_and_in_all() {
    let mut app = support::start_configured(creation_limits).await;
    let statements: Vec<String> = (0..4)
        .map(|slot| {
            let patient = app.new_patient_keys(slot);
            app.sign(&patient.key, patient.register())
        })
        .collect();
    let register = |from: &'static str, statement: &String| {
        let body = json!({ "statement": statement });
        let app = &app.app;
        async move { post_from(app, "/v1/patients", from, body).await }
    };
    let a = "203.0.113.1:1000";
    for statement in &statements[..2] {
        let reply = register(a, statement).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }
    limited(&register(a, &statements[2]).await);
    let reply = register("203.0.113.2:1000", &statements[2]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    limited(&register("203.0.113.3:1000", &statements[3]).await);
}
