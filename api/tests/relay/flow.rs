//! The full story through HTTP, and each endpoint's success and refusals.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use carechain_core::identity::SigningKey;
use carechain_core::ids::B64;
use carechain_core::statement::*;

use crate::support::{self, STAFF_PASSWORD, start};
use crate::world::ok;

#[actix_web::test]
async fn the_whole_story_through_http() {
    let mut app = start().await;
    let s = app.scenario().await;

    // Lists: each party sees its own objects, a stranger none.
    let theirs = format!("/v1/patients/{}/records", s.patient.id());
    for (path, token, items) in [
        ("/v1/requests", &s.patient.token, 1),
        ("/v1/requests?status=pending", &s.patient.token, 0),
        ("/v1/requests", &s.doctor.token, 1),
        ("/v1/requests", &s.other_patient.token, 0),
        ("/v1/patients/me/records", &s.patient.token, 1),
        (theirs.as_str(), &s.doctor.token, 1),
        ("/v1/products", &s.other_patient.token, 1),
    ] {
        assert_eq!(app.count(path, token).await, items, "{path}");
    }
    let mine = app.get_ok("/v1/requests", &s.patient.token).await;
    assert_eq!(mine.body["items"][0]["status"], "granted");
    app.get_ok(&format!("/v1/requests/{}", s.request), &s.doctor.token)
        .await;

    // Records: the patient reads its own; the doctor reads through a logged transaction.
    let own = app
        .get_ok(&format!("/v1/records/{}", s.record), &s.patient.token)
        .await;
    assert!(own.body["key"]["enc"].is_string());
    let act = Action::ReadRecord(ReadRecord { record: s.record });
    let read = app
        .post_signed(&format!("/v1/records/{}/read", s.record), &s.doctor, act)
        .await;
    ok(&read, StatusCode::OK);
    assert!(read.body["tx_id"].is_string());
    assert!(read.body["key"]["ciphertext"].is_string());
    let log = app
        .get_ok("/v1/patients/me/access-log", &s.patient.token)
        .await;
    assert_eq!(
        log.body["items"][0]["reader"],
        Value::from(s.doctor.id().to_string())
    );

    // Products, policies, claims.
    app.get_ok(&format!("/v1/policies/{}", s.policy), &s.patient.token)
        .await;
    let policies = app.get("/v1/policies", &s.insurer.token).await;
    assert_eq!(policies.body["items"][0]["status"], "issued");
    let claims = app.get("/v1/claims", &s.insurer.token).await;
    assert_eq!(claims.body["items"][0]["decision"]["decision"], "approved");
    app.get_ok(&format!("/v1/claims/{}", s.claim), &s.patient.token)
        .await;
    let paid = |reference: &str| {
        Action::MarkPaid(MarkPaid {
            claim: s.claim,
            reference: reference.into(),
        })
    };
    let path = format!("/v1/claims/{}/paid", s.claim);
    app.submit(&path, &s.insurer, paid("PAY-1"), StatusCode::OK)
        .await;
    let twice = app.post_signed(&path, &s.insurer, paid("PAY-2")).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{twice:?}");
    assert_eq!(
        twice.body["type"],
        "https://carechain.dev/problems/ledger/conflict"
    );

    // Deny a second request; revoke the first grant.
    let second = app.ask(&s.other_doctor, &s.patient).await;
    let act = Action::Deny(Deny { request: second });
    let path = format!("/v1/requests/{second}/deny");
    app.submit(&path, &s.patient, act, StatusCode::OK).await;
    let act = Action::Revoke(Revoke { request: s.request });
    let path = format!("/v1/requests/{}/revoke", s.request);
    app.submit(&path, &s.patient, act, StatusCode::OK).await;
    // The grant is gone: the doctor can no longer list readers.
    let readers = app
        .get(
            &format!("/v1/patients/{}/readers?category=general", s.patient.id()),
            &s.doctor.token,
        )
        .await;
    assert_eq!(readers.status, StatusCode::NOT_FOUND);
    let listed = app.get(&theirs, &s.doctor.token).await;
    assert_eq!(listed.status, StatusCode::NOT_FOUND);

    // Audit: metadata only.
    app.assert_audit_holds(&[
        "init",
        "register_identity",
        "access_request",
        "grant",
        "write_record",
        "read_record",
        "file_claim",
        "mark_paid",
    ])
    .await;
    let page = app
        .get("/v1/admin/audit?limit=1", &app.admin.token.clone())
        .await;
    assert_eq!(page.body["next"], "1");

    // Suspension: the doctor's statements are refused by the ledger, its refresh tokens die.
    let act = Action::SuspendIdentity(SuspendIdentity {
        actor: s.doctor.id(),
        reason: "test".into(),
    });
    let path = format!("/v1/admin/accounts/{}/suspend", s.doctor.account);
    ok(&app.post_as_admin(&path, act).await, StatusCode::OK);
    let refreshed = app.refresh(&s.doctor.refresh).await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    // Its still-unexpired access token no longer works either.
    let again = app.ask_raw(&s.doctor, &s.patient).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    // And the ledger refuses its statements whoever forwards them.
    let act = app.read_request(&s.patient);
    let statement = app.sign(&s.doctor.key, act);
    let other = app.approved(Role::Doctor).await;
    let refused = app
        .post_statement("/v1/requests", Some(&other.token), &statement)
        .await;
    // The relay stops it first (not the caller's statement); the ledger would too.
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let direct = app
        .state
        .ledger
        .submit(carechain_ledger::Proposal::new(
            "submit",
            [statement.into_bytes()],
        ))
        .await;
    assert!(
        matches!(&direct, Err(carechain_ledger::LedgerError::Refused { code, .. }) if code == "signer_suspended"),
        "{direct:?}"
    );
}

#[actix_web::test]
async fn accounts_sign_up_pending_then_approved_and_listed() {
    let mut app = start().await;
    let doctor = app.signed_up(Role::Doctor).await;
    let login = app.login_reply(&doctor.email, STAFF_PASSWORD).await;
    assert_eq!(login.status, StatusCode::FORBIDDEN, "{login:?}");
    let admin = app.admin.token.clone();
    let pending = app.get("/v1/admin/accounts?status=pending", &admin).await;
    ok(&pending, StatusCode::OK);
    assert_eq!(pending.body["items"].as_array().unwrap().len(), 1);
    assert!(pending.body["items"][0]["signing_key"].is_string());
    // Approval must register this account's key: another key is refused.
    let stranger = SigningKey::generate(&mut app.rng);
    let mut registration = doctor.registration();
    registration.signing_key = stranger.verifying_key();
    let path = format!("/v1/admin/accounts/{}/approve", doctor.account);
    let wrong = app
        .post_as_admin(&path, Action::RegisterIdentity(registration))
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{wrong:?}");
    // Duplicate email.
    let mut body = doctor.sign_up();
    body["display_name"] = "X".into();
    body["signing_key"] = B64(stranger.verifying_key().to_sec1_bytes())
        .encode()
        .into();
    let dup = app.post_plain("/v1/accounts", body).await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{dup:?}");
    let me = app.get("/v1/me", &admin).await;
    assert_eq!(me.body["role"], "admin");
}

#[actix_web::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = support::start_configured(|config| config.refresh_reuse_grace_secs = 0).await;
    let access = app.admin.token.clone();
    let first = app.admin.refresh.clone();
    let rotated = app.refresh(&first).await;
    ok(&rotated, StatusCode::OK);
    let second = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    let replay = app.refresh(&first).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.content_type, "application/problem+json");
    // The whole family is gone, including the token issued by the rotation,
    // and so are the session's access tokens, before they expire.
    let after = app.refresh(&second).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let me = app.get("/v1/me", &access).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{me:?}");
    assert!(
        me.body["detail"].as_str().unwrap().contains("revoked"),
        "{me:?}"
    );
    // Another session of the same account is untouched.
    let login = app
        .login_reply("admin@example.org", support::ADMIN_PASSWORD)
        .await;
    ok(&login, StatusCode::OK);
    let other = login.body["access_token"].as_str().unwrap();
    ok(&app.get("/v1/me", other).await, StatusCode::OK);
}

#[actix_web::test]
async fn a_concurrent_refresh_is_refused_without_ending_the_session() {
    let app = start().await;
    let first = app.admin.refresh.clone();
    let rotated = app.refresh(&first).await;
    ok(&rotated, StatusCode::OK);
    // The same token again at once: another request of the same client.
    let again = app.refresh(&first).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let second = rotated.body["refresh_token"].as_str().unwrap();
    ok(&app.refresh(second).await, StatusCode::OK);
    let access = rotated.body["access_token"].as_str().unwrap();
    ok(&app.get("/v1/me", access).await, StatusCode::OK);
}

#[actix_web::test]
async fn patient_login_needs_a_fresh_challenge_signed_by_the_registered_key() {
    let mut app = start().await;
    let patient = app.patient(0).await;
    let other = app.patient(1).await;
    let (challenge, aud) = app.challenge(&patient).await;
    let proof =
        |who, audience: &str, offset| support::login_proof(who, &challenge, audience, offset);
    let good = proof(&patient, &aud, 0);
    // In order: another key's, the wrong audience, one dated ahead of the
    // relay's clock, the right one (accepted once, then the challenge is
    // spent), an expired one.
    for (what, signature, status) in [
        (
            "another key",
            proof(&other, &aud, 0),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "another audience",
            proof(&patient, "someone-else", 0),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a proof dated a day ahead",
            proof(&patient, &aud, 86_400),
            StatusCode::UNAUTHORIZED,
        ),
        ("the right proof", good.clone(), StatusCode::OK),
        ("a spent challenge", good, StatusCode::UNAUTHORIZED),
        (
            "an expired proof",
            proof(&patient, &aud, -3600),
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let reply = app.patient_login_reply(&patient, &signature).await;
        assert_eq!(reply.status, status, "{what}: {reply:?}");
    }
}

#[actix_web::test]
async fn idempotency_replays_refuses_reuse_and_is_required_on_ledger_posts() {
    let mut app = start().await;
    let insurer = app.approved(Role::Insurer).await;
    let (_, act) = app.product_act("P", "E11");
    let statement = app.sign(&insurer.key, act);
    let body = json!({"statement": statement});
    // Another statement, to be sent under the same key.
    let (_, act) = app.product_act("Q", "E11");
    let other = json!({"statement": app.sign(&insurer.key, act)});
    let post = |body: &Value, key| {
        let token = Some(insurer.token.as_str());
        app.send(Method::POST, "/v1/products", token, Some(body.clone()), key)
    };
    let missing = post(&body, None).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.body["type"],
        "https://carechain.dev/problems/idempotency_key_required"
    );
    let first = post(&body, Some("same")).await;
    ok(&first, StatusCode::CREATED);
    let replay = post(&body, Some("same")).await;
    ok(&replay, StatusCode::CREATED);
    assert_eq!(replay.body, first.body);
    let reused = post(&other, Some("same")).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
}
