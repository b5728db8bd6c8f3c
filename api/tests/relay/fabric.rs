//! The relay with `ledger = "fabric"`: the whole story through HTTP against
//! a test Fabric peer (TLS, server-name override, the relay's MSP identity
//! from files), answering as it does on the embedded ledger, with the admin
//! audit trail read from the peer's blocks through QSCC, and a statement
//! sent again answered with the peer's transaction.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use carechain_core::statement::{Action, ReadRecord};
use carechain_fabric_testpeer::{NetworkOptions, TestNetwork};

use crate::support;
use crate::world::ok;

/// A relay configured for `network`'s gateway (TLS, the client identity from files).
async fn relay_on(network: &TestNetwork) -> support::TestApp<impl support::RelayApp> {
    support::start_configured(|config| *config = support::fabric_config(network, &config.data_dir))
        .await
}

/// A test network with TLS.
async fn network() -> TestNetwork {
    TestNetwork::start(NetworkOptions {
        tls: true,
        ..NetworkOptions::default()
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn readiness_fails_while_the_chaincode_is_down_though_the_peer_answers() {
    let network = network().await;
    let app = relay_on(&network).await;
    let ready = app.send(Method::GET, "/readyz", None, None, None).await;
    ok(&ready, StatusCode::OK);
    network.stop_chaincode();
    let height = network.height();
    let ready = app.send(Method::GET, "/readyz", None, None, None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "{ready:?}");
    assert_eq!(ready.content_type, "application/problem+json");
    assert!(
        ready.body.to_string().contains("ledger not ready"),
        "{ready:?}"
    );
    assert_eq!(network.height(), height, "the peer still answers");
}

#[actix_web::test]
async fn the_story_through_http_on_fabric() {
    let network = network().await;
    let mut app = relay_on(&network).await;
    // Consent, records, insurance, an approved claim (asserted inside).
    let s = app.scenario().await;
    let height_after_story = network.height();
    assert!(height_after_story > 10, "the story went to the peer");

    // A read through a logged transaction; a refused one.
    let act = Action::ReadRecord(ReadRecord { record: s.record });
    let path = format!("/v1/records/{}/read", s.record);
    let body = json!({ "statement": app.sign(&s.doctor.key, act.clone()) });
    let read = app.post(&path, Some(&s.doctor.token), body.clone()).await;
    ok(&read, StatusCode::OK);
    // Sent again under another key: the peer's transaction answers it.
    let again = app.post(&path, Some(&s.doctor.token), body).await;
    ok(&again, StatusCode::OK);
    assert_eq!(again.body, read.body);
    assert_eq!(network.height(), height_after_story + 1, "one transaction");
    let refused = app
        .post_signed(
            &format!("/v1/records/{}/read", s.record),
            &s.other_doctor,
            act,
        )
        .await;
    // Another's record reads as an unknown one: no oracle of ids.
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{refused:?}");
    assert_eq!(refused.content_type, "application/problem+json");

    // Queries go to the peer too: the patient sees the claim decided.
    let claims = app.get("/v1/claims", &s.patient.token).await;
    ok(&claims, StatusCode::OK);
    assert!(claims.body.to_string().contains(&s.claim.to_string()));

    // The audit trail comes from the peer's blocks, metadata only.
    app.assert_audit_holds(&[
        "init",
        "register_identity",
        "grant",
        "write_record",
        "read_record",
        "file_claim",
    ])
    .await;

    // A malformed statement is the relay's 400, never forwarded.
    let before = network.height();
    let bad = app
        .send(
            Method::POST,
            "/v1/claims",
            Some(&s.patient.token.clone()),
            Some(json!({ "statement": "not.a.jws" })),
            Some("bad-statement"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");
    assert_eq!(network.height(), before);
}
