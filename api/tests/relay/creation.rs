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
    post_via(app, path, from, None, body).await
}

/// POSTs `body` to `path` from peer `from`, with `X-Forwarded-For: forwarded` if given.
async fn post_via(
    app: &impl RelayApp,
    path: &str,
    from: &str,
    forwarded: Option<&str>,
    body: Value,
) -> Reply {
    let mut req = TestRequest::post()
        .uri(path)
        .peer_addr(from.parse().unwrap())
        .insert_header(("Idempotency-Key", uuid::Uuid::new_v4().to_string()));
    if let Some(forwarded) = forwarded {
        req = req.insert_header(("X-Forwarded-For", forwarded));
    }
    app.answer(req.set_json(body)).await
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

#[actix_web::test]
async fn behind_a_trusted_balancer_each_forwarded_client_has_its_own_limit() {
    let mut app = support::start_configured(|config| {
        creation_limits(config);
        config.signups_per_hour = 100;
        config.trusted_proxies =
            carechain_api::auth::client_ip::TrustedProxies::parse_list("10.0.0.0/8").unwrap();
    })
    .await;
    let bodies: Vec<Value> = (0..5)
        .map(|n| {
            let mut actor = app.new_actor(Role::Doctor, None);
            actor.email = format!("doctor{n}@example.org");
            actor.sign_up()
        })
        .collect();
    let balancer = "10.0.0.1:4000";
    // Client A, through the balancer, with a forged leftmost entry.
    let a = Some("192.0.2.77, 198.51.100.1");
    for body in &bodies[..2] {
        let reply = post_via(&app.app, "/v1/accounts", balancer, a, body.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }
    limited(&post_via(&app.app, "/v1/accounts", balancer, a, bodies[2].clone()).await);
    // Client B, through the same balancer, is counted on its own.
    let b = Some("198.51.100.2");
    let reply = post_via(&app.app, "/v1/accounts", balancer, b, bodies[2].clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    // A client reaching the relay directly cannot pick its address.
    let direct = "198.51.100.3:1000";
    let forged = |n: u8| format!("203.0.113.{n}");
    for (n, body) in bodies[3..].iter().enumerate() {
        let reply = post_via(
            &app.app,
            "/v1/accounts",
            direct,
            Some(&forged(n as u8)),
            body.clone(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }
    let mut extra = app.new_actor(Role::Doctor, None);
    extra.email = "doctor-extra@example.org".into();
    limited(
        &post_via(
            &app.app,
            "/v1/accounts",
            direct,
            Some(&forged(9)),
            extra.sign_up(),
        )
        .await,
    );
}
