//! A ledger commit followed by a crash before the relay stored its side: the
//! retried request adopts what the ledger already holds.

use actix_web::http::StatusCode;
use carechain_core::statement::Role;
use carechain_ledger::Proposal;

use crate::support::{RelayApp, STAFF_PASSWORD, TestApp, start};
use crate::world::ok;

/// The first attempt reached the ledger only: `statement` submitted straight to it.
async fn on_the_ledger_only<S: RelayApp>(app: &TestApp<S>, statement: String) {
    app.state
        .ledger
        .submit(Proposal::new("submit", [statement.into_bytes()]))
        .await
        .unwrap();
}

#[actix_web::test]
async fn a_patient_already_on_the_ledger_is_adopted_on_retry() {
    let mut app = start().await;
    let mut patient = app.new_patient_keys(0);
    let first = app.sign(&patient.key, patient.register());
    on_the_ledger_only(&app, first).await;
    let retry = app.sign(&patient.key, patient.register());
    let reply = app.post_statement("/v1/patients", None, &retry).await;
    ok(&reply, StatusCode::CREATED);
    assert!(reply.body["tx_id"].is_null());
    let (token, _) = app.patient_login(&patient).await;
    patient.token = token;
    ok(
        &app.get("/v1/patients/me/records", &patient.token).await,
        StatusCode::OK,
    );
    // A second registration of the same patient is a conflict.
    let again = app.sign(&patient.key, patient.register());
    let reply = app.post_statement("/v1/patients", None, &again).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{reply:?}");
}

#[actix_web::test]
async fn an_approval_already_on_the_ledger_is_finished_on_retry() {
    let mut app = start().await;
    let doctor = app.signed_up(Role::Doctor).await;
    let first = app.sign_as_admin(doctor.register());
    on_the_ledger_only(&app, first).await;
    ok(&app.approve(&doctor).await, StatusCode::OK);
    app.password_login(&doctor.email, STAFF_PASSWORD).await;
}
