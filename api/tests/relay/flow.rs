//! The full story through HTTP, and each endpoint's success and refusals.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use carechain_core::identity::SigningKey;
use carechain_core::statement::*;

use crate::support::{self, start};
use crate::world::ok;

#[actix_web::test]
async fn the_whole_story_through_http() {
    let mut app = start().await;
    let s = app.scenario().await;

    // Requests: the patient and the doctor each see theirs.
    let mine = app.get("/v1/requests", &s.patient.token).await;
    ok(&mine, StatusCode::OK);
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine.body["items"][0]["status"], "granted");
    let pending = app
        .get("/v1/requests?status=pending", &s.patient.token)
        .await;
    assert_eq!(pending.body["items"].as_array().unwrap().len(), 0);
    let doctors = app.get("/v1/requests", &s.doctor.token).await;
    assert_eq!(doctors.body["items"].as_array().unwrap().len(), 1);
    ok(
        &app.get(&format!("/v1/requests/{}", s.request), &s.doctor.token)
            .await,
        StatusCode::OK,
    );
    let other = app.get("/v1/requests", &s.other_patient.token).await;
    assert_eq!(other.body["items"].as_array().unwrap().len(), 0);

    // Records: the patient reads its own; the doctor reads through a logged transaction.
    let own = app
        .get(&format!("/v1/records/{}", s.record), &s.patient.token)
        .await;
    ok(&own, StatusCode::OK);
    assert!(own.body["key"]["enc"].is_string());
    let listed = app.get("/v1/patients/me/records", &s.patient.token).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let act = Action::ReadRecord(ReadRecord { record: s.record });
    let read = app
        .post_signed(&format!("/v1/records/{}/read", s.record), &s.doctor, act)
        .await;
    ok(&read, StatusCode::OK);
    assert!(read.body["tx_id"].is_string());
    assert!(read.body["key"]["ciphertext"].is_string());
    let theirs = format!("/v1/patients/{}/records", s.patient.id());
    let listed = app.get(&theirs, &s.doctor.token).await;
    ok(&listed, StatusCode::OK);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let log = app
        .get("/v1/patients/me/access-log", &s.patient.token)
        .await;
    ok(&log, StatusCode::OK);
    assert_eq!(
        log.body["items"][0]["reader"],
        Value::from(s.doctor.id().to_string())
    );

    // Products, policies, claims.
    let products = app.get("/v1/products", &s.other_patient.token).await;
    assert_eq!(products.body["items"].as_array().unwrap().len(), 1);
    let policies = app.get("/v1/policies", &s.insurer.token).await;
    assert_eq!(policies.body["items"][0]["status"], "issued");
    let claims = app.get("/v1/claims", &s.insurer.token).await;
    assert_eq!(claims.body["items"][0]["decision"]["decision"], "approved");
    let claim = app
        .get(&format!("/v1/claims/{}", s.claim), &s.patient.token)
        .await;
    ok(&claim, StatusCode::OK);
    let act = Action::MarkPaid(MarkPaid {
        claim: s.claim,
        reference: "PAY-1".into(),
    });
    ok(
        &app.post_signed(
            &format!("/v1/claims/{}/paid", s.claim),
            &s.insurer,
            act.clone(),
        )
        .await,
        StatusCode::OK,
    );
    let act = Action::MarkPaid(MarkPaid {
        claim: s.claim,
        reference: "PAY-2".into(),
    });
    let twice = app
        .post_signed(&format!("/v1/claims/{}/paid", s.claim), &s.insurer, act)
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{twice:?}");
    assert_eq!(
        twice.body["type"],
        "https://carechain.dev/problems/conflict"
    );

    // Deny a second request; revoke the first grant.
    let second = app.ask(&s.other_doctor, &s.patient).await;
    let act = Action::Deny(Deny { request: second });
    ok(
        &app.post_signed(&format!("/v1/requests/{second}/deny"), &s.patient, act)
            .await,
        StatusCode::OK,
    );
    let act = Action::Revoke(Revoke { request: s.request });
    ok(
        &app.post_signed(
            &format!("/v1/requests/{}/revoke", s.request),
            &s.patient,
            act,
        )
        .await,
        StatusCode::OK,
    );
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
    let audit = app.get("/v1/admin/audit", &app.admin.token.clone()).await;
    ok(&audit, StatusCode::OK);
    let items = audit.body["items"].as_array().unwrap();
    let kinds: Vec<&str> = items
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    for kind in [
        "init",
        "register_identity",
        "access_request",
        "grant",
        "write_record",
        "read_record",
        "file_claim",
        "mark_paid",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let text = audit.body.to_string();
    assert!(!text.contains("payload") && !text.contains("proof"));
    let page = app
        .get("/v1/admin/audit?limit=1", &app.admin.token.clone())
        .await;
    assert_eq!(page.body["next"], "1");

    // Suspension: the doctor's statements are refused by the ledger, its refresh tokens die.
    let admin_key = SigningKey::from_bytes(app.admin.key.to_bytes().as_slice()).unwrap();
    let act = Action::SuspendIdentity(SuspendIdentity {
        actor: s.doctor.id(),
        reason: "test".into(),
    });
    let statement = app.sign(&admin_key, act);
    let admin_token = app.admin.token.clone();
    let path = format!("/v1/admin/accounts/{}/suspend", s.doctor.account);
    ok(
        &app.post(&path, Some(&admin_token), json!({"statement": statement}))
            .await,
        StatusCode::OK,
    );
    let refreshed = app
        .send(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": s.doctor.refresh})),
            None,
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    // Its still-unexpired access token no longer works either.
    let again = app.ask_raw(&s.doctor, &s.patient).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    // And the ledger refuses its statements whoever forwards them.
    let act = Action::AccessRequest(AccessRequest {
        request: carechain_core::ids::RequestId::random(&mut app.rng),
        patient: s.patient.id(),
        actions: vec![AccessAction::Read],
        scope: Scope::All,
        purpose: PurposeOfUse::Treat,
        duration_secs: 86_400,
    });
    let statement = app.sign(&s.doctor.key, act);
    let other = app.approved(Role::Doctor).await;
    let token = other.token.clone();
    let refused = app
        .post(
            "/v1/requests",
            Some(&token),
            json!({"statement": statement}),
        )
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
    let login = app
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": doctor.email, "password": "a-good-password"})),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN, "{login:?}");
    let admin = app.admin.token.clone();
    let pending = app.get("/v1/admin/accounts?status=pending", &admin).await;
    ok(&pending, StatusCode::OK);
    assert_eq!(pending.body["items"].as_array().unwrap().len(), 1);
    assert!(pending.body["items"][0]["signing_key"].is_string());
    // Approval must register this account's key: another key is refused.
    let stranger = SigningKey::generate(&mut app.rng);
    let mut registration = Actor::registration_of(&doctor);
    registration.signing_key = stranger.verifying_key();
    let admin_key = SigningKey::from_bytes(app.admin.key.to_bytes().as_slice()).unwrap();
    let statement = app.sign(&admin_key, Action::RegisterIdentity(registration));
    let path = format!("/v1/admin/accounts/{}/approve", doctor.account);
    let wrong = app
        .post(&path, Some(&admin), json!({"statement": statement}))
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{wrong:?}");
    // Duplicate email.
    let dup = app
        .send(Method::POST, "/v1/accounts", None, Some(json!({
            "email": doctor.email, "password": "a-good-password", "role": "doctor", "display_name": "X",
            "signing_key": carechain_core::ids::B64(stranger.verifying_key().to_sec1_bytes()).encode(),
            "hpke_key": carechain_core::ids::B64(doctor.hpke.public_key().to_bytes()).encode(),
        })), None)
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{dup:?}");
    let me = app.get("/v1/me", &admin).await;
    assert_eq!(me.body["role"], "admin");
}

use crate::support::Actor;

impl Actor {
    fn registration_of(actor: &Actor) -> RegisterIdentity {
        actor.registration()
    }
}

#[actix_web::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = start().await;
    let first = app.admin.refresh.clone();
    let rotated = app
        .send(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": first})),
            None,
        )
        .await;
    ok(&rotated, StatusCode::OK);
    let second = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    let replay = app
        .send(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": first})),
            None,
        )
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.content_type, "application/problem+json");
    // The whole family is gone, including the token issued by the rotation.
    let after = app
        .send(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": second})),
            None,
        )
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn patient_login_needs_a_fresh_challenge_signed_by_the_registered_key() {
    let mut app = start().await;
    let patient = app.patient(0).await;
    let other = app.patient(1).await;
    let reply = app
        .send(
            Method::POST,
            "/v1/auth/challenge",
            None,
            Some(json!({"actor": patient.id().to_string()})),
            None,
        )
        .await;
    let challenge = reply.body["challenge"].as_str().unwrap().to_owned();
    let aud = reply.body["audience"].as_str().unwrap().to_owned();
    // Signed by another key: refused.
    let forged = support::login_proof(&other, &challenge, &aud, 0);
    let body = json!({"actor": patient.id().to_string(), "signature": forged});
    let r = app
        .send(
            Method::POST,
            "/v1/auth/patient-login",
            None,
            Some(body),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Wrong audience: refused.
    let wrong_aud = support::login_proof(&patient, &challenge, "someone-else", 0);
    let body = json!({"actor": patient.id().to_string(), "signature": wrong_aud});
    let r = app
        .send(
            Method::POST,
            "/v1/auth/patient-login",
            None,
            Some(body),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Right: accepted once, then the challenge is spent.
    let good = support::login_proof(&patient, &challenge, &aud, 0);
    let body = json!({"actor": patient.id().to_string(), "signature": good});
    let r = app
        .send(
            Method::POST,
            "/v1/auth/patient-login",
            None,
            Some(body.clone()),
            None,
        )
        .await;
    ok(&r, StatusCode::OK);
    let r = app
        .send(
            Method::POST,
            "/v1/auth/patient-login",
            None,
            Some(body),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // An expired proof.
    let expired = support::login_proof(&patient, &challenge, &aud, -3600);
    let body = json!({"actor": patient.id().to_string(), "signature": expired});
    let r = app
        .send(
            Method::POST,
            "/v1/auth/patient-login",
            None,
            Some(body),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn idempotency_replays_refuses_reuse_and_is_required_on_ledger_posts() {
    let mut app = start().await;
    let insurer = app.approved(Role::Insurer).await;
    let (_, act) = app.product_act("P", "E11");
    let statement = app.sign(&insurer.key, act);
    let body = json!({"statement": statement});
    let token = insurer.token.clone();
    let missing = app
        .send(
            Method::POST,
            "/v1/products",
            Some(&token),
            Some(body.clone()),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.body["type"],
        "https://carechain.dev/problems/idempotency_key_required"
    );
    let first = app
        .send(
            Method::POST,
            "/v1/products",
            Some(&token),
            Some(body.clone()),
            Some("same"),
        )
        .await;
    ok(&first, StatusCode::CREATED);
    let replay = app
        .send(
            Method::POST,
            "/v1/products",
            Some(&token),
            Some(body),
            Some("same"),
        )
        .await;
    ok(&replay, StatusCode::CREATED);
    assert_eq!(replay.body, first.body);
    let (_, act) = app.product_act("Q", "E11");
    let other = json!({"statement": app.sign(&insurer.key, act)});
    let reused = app
        .send(
            Method::POST,
            "/v1/products",
            Some(&token),
            Some(other),
            Some("same"),
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
}

impl<S, B> crate::support::TestApp<S>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    /// An access request whose reply is returned, not asserted.
    pub async fn ask_raw(&mut self, doctor: &Actor, patient: &Actor) -> support::Reply {
        let act = Action::AccessRequest(AccessRequest {
            request: carechain_core::ids::RequestId::random(&mut self.rng),
            patient: patient.id(),
            actions: vec![AccessAction::Read],
            scope: Scope::All,
            purpose: PurposeOfUse::Treat,
            duration_secs: 86_400,
        });
        self.post_signed("/v1/requests", doctor, act).await
    }
}
