//! The low items of the security review: headers (`nosniff` everywhere,
//! CSP and frame protection on `/docs`, `no-store` on tokens), sign-up
//! e-mails without control, bidi or zero-width characters, an unknown
//! `status` filter refused, and a record read that is no oracle.

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;

use carechain_core::ids::RecordId;
use carechain_core::statement::{Action, ReadRecord, Role};

use crate::support::{STAFF_PASSWORD, start};
use crate::world::ok;

#[actix_web::test]
async fn every_response_says_nosniff_and_the_docs_cannot_be_framed() {
    let app = start().await;
    for path in [
        "/healthz",
        "/v1/openapi.json",
        "/v1/nowhere",
        "/v1/me",
        "/docs/",
    ] {
        let reply = app.send(Method::GET, path, None, None, None).await;
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}: {reply:?}"
        );
    }
    let docs = app.raw(TestRequest::get().uri("/docs/")).await;
    assert_eq!(docs.status, StatusCode::OK);
    let csp = docs.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert_eq!(docs.header("x-frame-options"), Some("DENY"));
}

#[actix_web::test]
async fn an_unknown_status_filter_is_a_400() {
    let mut app = start().await;
    app.signed_up(Role::Doctor).await;
    let admin = app.admin.token.clone();
    let pending = app.get("/v1/admin/accounts?status=pending", &admin).await;
    ok(&pending, StatusCode::OK);
    assert_eq!(pending.body["items"].as_array().map(Vec::len), Some(1));
    for path in [
        "/v1/admin/accounts?status=bogus",
        "/v1/admin/audit?status=pending",
        "/v1/products?status=active",
        "/v1/requests?status=whatever",
    ] {
        let token = if path.starts_with("/v1/requests") {
            app.patient(0).await.token
        } else {
            admin.clone()
        };
        app.get(path, &token)
            .await
            .assert_problem_of(StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[actix_web::test]
async fn another_doctors_record_and_an_unknown_id_read_alike() {
    let mut app = start().await;
    let doctor = app.approved(Role::Doctor).await;
    let stranger = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let request = app.ask(&doctor, &patient).await;
    let act = app.grant_act(request);
    app.submit(
        &format!("/v1/requests/{request}/grant"),
        &patient,
        act,
        StatusCode::OK,
    )
    .await;
    let record = app.write_record(&doctor, &patient, "E11.9").await;
    let unknown = RecordId::random(&mut app.rng);
    let mut answers = Vec::new();
    for id in [record, unknown] {
        let act = Action::ReadRecord(ReadRecord { record: id });
        let reply = app
            .post_signed(&format!("/v1/records/{id}/read"), &stranger, act)
            .await;
        reply.assert_problem_of(StatusCode::NOT_FOUND, "not_found");
        answers.push((reply.body["type"].clone(), reply.body["detail"].clone()));
    }
    assert_eq!(answers[0], answers[1]);
    // The doctor with the grant still reads it.
    let act = Action::ReadRecord(ReadRecord { record });
    let read = app
        .post_signed(&format!("/v1/records/{record}/read"), &doctor, act)
        .await;
    ok(&read, StatusCode::OK);
}

#[actix_web::test]
async fn token_responses_are_not_cached() {
    let mut app = start().await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let login = app.login_reply(&doctor.email, STAFF_PASSWORD).await;
    let refreshed = app.refresh(&doctor.refresh).await;
    let (challenge, audience) = app.challenge(&patient).await;
    let proof = crate::support::login_proof(&patient, &challenge, &audience, 0);
    let patient_login = app.patient_login_reply(&patient, &proof).await;
    for (name, reply) in [
        ("login", login),
        ("refresh", refreshed),
        ("patient-login", patient_login),
    ] {
        ok(&reply, StatusCode::OK);
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{name}");
    }
}

#[actix_web::test]
async fn sign_up_emails_with_hidden_characters_are_refused() {
    let mut app = start().await;
    for (n, email) in [
        "doc\u{0}tor@example.org",
        "doctor@example.org\r\nBcc: x@example.org",
        "doctor\n@example.org",
        "doc\u{202E}gro.elpmaxe@rotcod",
        "doc\u{200B}tor@example.org",
        "doc\u{2066}tor@example.org",
        "doc\u{FEFF}tor@example.org",
        "doc tor@example.org",
    ]
    .into_iter()
    .enumerate()
    {
        let mut actor = app.new_actor(Role::Doctor, None);
        actor.email = email.to_owned();
        let reply = app.post_plain("/v1/accounts", actor.sign_up()).await;
        reply.assert_problem_of(StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            reply.body["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("email:")),
            "{n}: {reply:?}"
        );
    }
}
