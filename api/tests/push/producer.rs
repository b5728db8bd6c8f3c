//! The outbox producer: recipients, ids only, exactly once across restarts.

use std::time::Duration;

use carechain_api::db;
use carechain_api::push::store::{self, NewRow};
use serde_json::Value;

use crate::harness::wait_rows;
use crate::support::start;

#[actix_web::test]
async fn a_request_and_its_grant_reach_patient_and_doctor_once() {
    let mut app = start().await;
    let doctor = app.approved(carechain_core::statement::Role::Doctor).await;
    let patient = app.patient(0).await;
    carechain_api::push::spawn_producer(app.state.clone());
    let request = app.ask(&doctor, &patient).await;
    let p = patient.id().to_string();
    let rows = wait_rows(&app.state, &p, 0, 1).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].kind, "access_requested");
    let data: Value = serde_json::from_str(&rows[0].payload).unwrap();
    assert_eq!(data["request"].as_str(), Some(request.to_string().as_str()));
    assert_eq!(
        data["doctor"].as_str(),
        Some(doctor.id().to_string().as_str())
    );

    // A second producer (as after a restart) re-reads from the cursor but
    // adds nothing twice.
    carechain_api::push::spawn_producer(app.state.clone());
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(wait_rows(&app.state, &p, 0, 2).await.len(), 1);
}

#[actix_web::test]
async fn enqueue_is_exactly_once_per_block_tx_and_recipient() {
    let app = start().await;
    let row = |r: &str| NewRow {
        recipient: r.into(),
        kind: "access_requested".into(),
        payload: "{}".into(),
        block: 7,
        tx_id: "tx".into(),
    };
    let rows = vec![row("a"), row("b")];
    let again = rows.clone();
    let first = db::run(&app.state.pool, move |c| store::enqueue(c, &rows, 7, 1))
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    let second = db::run(&app.state.pool, move |c| store::enqueue(c, &again, 7, 2))
        .await
        .unwrap();
    assert!(second.is_empty());
    let cursor = db::run(&app.state.pool, db::outbox::cursor).await.unwrap();
    assert_eq!(cursor, 7);
}
