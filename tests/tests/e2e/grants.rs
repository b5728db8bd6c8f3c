//! Consent is enforced: a revoked or expired grant refuses reads, and a
//! doctor without a write grant cannot write.

use std::sync::Arc;
use std::time::Duration;

use carechain_core::statement::Role;
use carechain_mobile::{AccessKind, RequestStatus};

use crate::http::now;
use crate::relay::Relay;
use crate::staff::{enrol, refused};
use crate::world::Cast;

/// After the patient revokes, the doctor's reads and listings are refused.
pub async fn revoked_grant_refuses_reads(relay: Arc<Relay>) {
    let cast = Cast::new(&relay, "revoked").await;
    let request = cast.grant_doctor().await;
    let record = cast
        .doctor
        .write_condition(&cast.patient.id, "J45.909")
        .await;
    let fhir = cast.doctor.read_condition(record).await;
    assert_eq!(fhir["code"]["coding"][0]["code"], "J45.909");

    cast.patient
        .client
        .revoke(request.to_string())
        .await
        .expect("the patient revokes");
    assert_eq!(cast.request_status(request).await, RequestStatus::Revoked);
    assert!(cast.patient.grants().await.is_empty(), "no grant is left");

    refused(cast.doctor.read_record(record).await, 404, "not_found");
    let listed = cast.doctor.patient_records(&cast.patient.id).await;
    refused(listed, 404, "not_found");
    // One read, before the revocation.
    let log = cast.patient.access_log().await;
    assert_eq!(log.len(), 1, "{log:?}");
}

/// A grant with a short end time: reads work until it ends, then are refused.
pub async fn expired_grant_refuses_reads(relay: Arc<Relay>) {
    let cast = Cast::new(&relay, "expired").await;
    let until = now() + 12;
    cast.grant(
        &cast.doctor,
        vec![AccessKind::Read, AccessKind::Write],
        until,
    )
    .await;
    let record = cast.doctor.write_condition(&cast.patient.id, "I10").await;
    let fhir = cast.doctor.read_condition(record).await;
    assert_eq!(fhir["code"]["coding"][0]["code"], "I10");

    while now() <= until + 1 {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    refused(cast.doctor.read_record(record).await, 404, "not_found");
    assert!(
        cast.patient.grants().await.is_empty(),
        "an expired grant is not listed as current"
    );
    // The patient still reads the record.
    assert_eq!(
        cast.patient.client.records().await.expect("records").len(),
        1
    );
}

/// A doctor granted read access after records exist reads them: the phone
/// re-wraps their data keys for that doctor when it approves; records outside
/// the granted scope stay closed.
pub async fn a_later_grant_opens_earlier_records(relay: Arc<Relay>) {
    let cast = Cast::new(&relay, "later").await;
    cast.grant_doctor().await;
    let earlier = cast.doctor.write_condition(&cast.patient.id, "E11.9").await;

    let second = enrol(&cast.admin, Role::Doctor, "second-opinion").await;
    cast.grant(&second, vec![AccessKind::Read], now() + 86_400)
        .await;
    let fhir = second.read_condition(earlier).await;
    assert_eq!(fhir["code"]["coding"][0]["code"], "E11.9");

    let log = cast.patient.access_log().await;
    assert!(
        log.iter()
            .any(|e| e.reader_id == second.id().to_string() && e.record_id == earlier.to_string()),
        "the second doctor's read is logged: {log:?}"
    );
}

/// A doctor granted read only (and one with no grant) cannot write a record.
pub async fn no_write_without_a_write_grant(relay: Arc<Relay>) {
    let cast = Cast::new(&relay, "readonly").await;
    cast.grant(&cast.doctor, vec![AccessKind::Read], now() + 86_400)
        .await;
    let patient = &cast.patient.id;

    // The relay does not list readers to a doctor without a write grant...
    refused(cast.doctor.try_readers(patient).await, 404, "not_found");
    // ...and the contract refuses a record the doctor wraps for the patient alone.
    let keys = cast
        .doctor
        .identity(patient)
        .await
        .expect("the patient's keys");
    let alone = [(patient.clone(), keys.hpke_key)];
    let written = cast.doctor.try_write_for(patient, "E11.9", &alone).await;
    refused(written, 403, "forbidden");
    // Nor can a doctor the patient never answered.
    let stranger = enrol(&cast.admin, Role::Doctor, "stranger").await;
    refused(
        stranger.try_write_for(patient, "E11.9", &alone).await,
        403,
        "forbidden",
    );
    assert!(
        cast.patient
            .client
            .records()
            .await
            .expect("records")
            .is_empty(),
        "nothing was written"
    );
}
