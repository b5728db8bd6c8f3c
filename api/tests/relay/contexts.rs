//! The one-answer reads that keep a phone's round trips constant: a grant's
//! context, a claim's context, and the patient's records with their keys.

use actix_web::http::StatusCode;
use serde_json::Value;

use carechain_core::envelope::WrappedKey;
use carechain_core::ids::{B64, RecordId};
use carechain_core::ledger::{ClaimContext, GrantContext, KeyedRecord, Page};
use carechain_core::statement::*;

use crate::support::start;
use crate::world::{claim_from, ok, wrapped};

#[actix_web::test]
async fn a_grant_context_holds_the_request_the_grantee_and_the_patients_keys_in_scope() {
    let mut app = start().await;
    let s = app.scenario().await;
    let second = app.write_record(&s.doctor, &s.patient, "I10").await;
    let reader = app.approved(Role::Doctor).await;
    let request = app.ask(&reader, &s.patient).await;

    let url = format!("/v1/requests/{request}/grant-context");
    let context: GrantContext = app.get_typed(&url, &s.patient.token).await;
    assert_eq!(context.request.request, request);
    assert_eq!(context.grantee.actor, reader.id());
    assert_eq!(
        context.grantee.hpke_key,
        B64(reader.hpke.public_key().to_bytes())
    );
    let mut listed: Vec<RecordId> = context.keys.iter().map(|k| k.record).collect();
    listed.sort();
    let mut expected = vec![s.record, second];
    expected.sort();
    assert_eq!(listed, expected);

    // The phone re-wraps its own keys for the doctor; the grant is accepted
    // and the doctor can open a record's key.
    let act = app.grant_with_keys(&s.patient, &context);
    let path = format!("/v1/requests/{request}/grant");
    app.submit(&path, &s.patient, act, StatusCode::OK).await;
    let act = Action::ReadRecord(ReadRecord { record: second });
    let read = app
        .post_signed(&format!("/v1/records/{second}/read"), &reader, act)
        .await;
    ok(&read, StatusCode::OK);
    let key: WrappedKey = serde_json::from_value(read.body["key"].clone()).unwrap();
    key.unwrap(&reader.hpke, &s.patient.id(), &second).unwrap();

    // A narrower scope holds only its records; a bad one is a 400.
    let lab = app
        .get(&format!("{url}?scope=laboratory,imaging"), &s.patient.token)
        .await;
    ok(&lab, StatusCode::OK);
    assert_eq!(lab.body["keys"], Value::Array(vec![]));
    let bad = app
        .get(&format!("{url}?scope=everything"), &s.patient.token)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");
    // Only the request's patient may ask.
    let other = app.get(&url, &s.other_patient.token).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{other:?}");
    let doctor = app.get(&url, &reader.token).await;
    assert_eq!(doctor.status, StatusCode::FORBIDDEN, "{doctor:?}");
}

#[actix_web::test]
async fn a_claim_context_holds_what_the_proof_needs_and_only_for_the_patients_own() {
    let mut app = start().await;
    let s = app.scenario().await;
    let record = app.write_record(&s.doctor, &s.patient, "E11.9").await;
    let url = format!("/v1/policies/{}/claim-context?record={record}", s.policy);
    let context: ClaimContext = app.get_typed(&url, &s.patient.token).await;
    assert_eq!(context.policy.policy, s.policy);
    assert_eq!(context.product.product, s.product);
    assert_eq!(context.record.record, record);
    wrapped(&context.key)
        .unwrap(&s.patient.hpke, &s.patient.id(), &record)
        .unwrap();

    // The proof made from the context alone is accepted.
    let (_, act) = claim_from(&context, &s.patient, &mut app.rng);
    let filed = app.post_signed("/v1/claims", &s.patient, act).await;
    ok(&filed, StatusCode::CREATED);
    assert_eq!(filed.body["result"]["decision"]["decision"], "approved");

    // Another patient's record, another patient, an insurer: refused.
    let foreign = app.write_record(&s.doctor, &s.patient, "I10").await;
    let other_url = format!("/v1/policies/{}/claim-context?record={foreign}", s.policy);
    let theirs = app.get(&other_url, &s.other_patient.token).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{theirs:?}");
    let insurer = app.get(&url, &s.insurer.token).await;
    assert_eq!(insurer.status, StatusCode::FORBIDDEN, "{insurer:?}");
    let missing = app
        .get(
            &format!("/v1/policies/{}/claim-context?record=nope", s.policy),
            &s.patient.token,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{missing:?}");
}

#[actix_web::test]
async fn the_patients_records_come_with_the_patients_own_keys() {
    let mut app = start().await;
    let s = app.scenario().await;
    app.write_record(&s.doctor, &s.patient, "I10").await;
    let page: Page<KeyedRecord> = app
        .get_typed("/v1/patients/me/records?limit=1", &s.patient.token)
        .await;
    assert_eq!(page.items.len(), 1);
    assert!(page.next.is_some());
    let item = &page.items[0];
    let own = app
        .get(
            &format!("/v1/records/{}", item.record.record),
            &s.patient.token,
        )
        .await;
    ok(&own, StatusCode::OK);
    assert_eq!(
        serde_json::to_value(item.key.as_ref().unwrap()).unwrap(),
        own.body["key"]
    );
    assert_eq!(
        serde_json::to_value(&item.record).unwrap(),
        own.body["record"]
    );
}
