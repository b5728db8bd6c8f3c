//! A ledger commit followed by a crash before the relay stored its side: the
//! retried request adopts what the ledger already holds.

use actix_web::http::StatusCode;
use carechain_core::identity::SigningKey;
use carechain_core::statement::{Action, Role};
use carechain_ledger::Proposal;
use serde_json::json;

use crate::support::start;
use crate::world::ok;

#[actix_web::test]
async fn a_patient_already_on_the_ledger_is_adopted_on_retry() {
    let mut app = start().await;
    let mut patient = app.new_patient_keys(0);
    // The first attempt reached the ledger only.
    let first = app.sign(
        &patient.key,
        Action::RegisterIdentity(patient.registration()),
    );
    app.state
        .ledger
        .submit(Proposal::new("submit", [first.into_bytes()]))
        .await
        .unwrap();
    let retry = app.sign(
        &patient.key,
        Action::RegisterIdentity(patient.registration()),
    );
    let reply = app
        .post("/v1/patients", None, json!({ "statement": retry }))
        .await;
    ok(&reply, StatusCode::CREATED);
    assert!(reply.body["tx_id"].is_null());
    let (token, _) = app.patient_login(&patient).await;
    patient.token = token;
    ok(
        &app.get("/v1/patients/me/records", &patient.token).await,
        StatusCode::OK,
    );
    // A second registration of the same patient is a conflict.
    let again = app.sign(
        &patient.key,
        Action::RegisterIdentity(patient.registration()),
    );
    let reply = app
        .post("/v1/patients", None, json!({ "statement": again }))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{reply:?}");
}

#[actix_web::test]
async fn an_approval_already_on_the_ledger_is_finished_on_retry() {
    let mut app = start().await;
    let doctor = app.signed_up(Role::Doctor).await;
    let admin_key = SigningKey::from_bytes(app.admin.key.to_bytes().as_slice()).unwrap();
    let first = app.sign(&admin_key, Action::RegisterIdentity(doctor.registration()));
    app.state
        .ledger
        .submit(Proposal::new("submit", [first.into_bytes()]))
        .await
        .unwrap();
    let retry = app.sign(&admin_key, Action::RegisterIdentity(doctor.registration()));
    let token = app.admin.token.clone();
    let path = format!("/v1/admin/accounts/{}/approve", doctor.account);
    ok(
        &app.post(&path, Some(&token), json!({ "statement": retry }))
            .await,
        StatusCode::OK,
    );
    app.password_login(&doctor.email, "a-good-password").await;
}
