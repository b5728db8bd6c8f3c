//! `GET /v1/identities/{actor}`: the public keys other parties encrypt to,
//! exactly as their owner registered them, for authenticated callers only.

use actix_web::http::{Method, StatusCode};

use carechain_core::identity::SigningKey;
use carechain_core::ids::B64;
use carechain_core::statement::Role;

use crate::support::{Actor, Reply, start};
use crate::world::ok;

/// Asserts `reply` carries exactly `actor`'s registered public keys.
fn same_keys(reply: &Reply, actor: &Actor, role: &str) {
    ok(reply, StatusCode::OK);
    let registered = actor.registration();
    let body = &reply.body;
    assert_eq!(body["actor"], actor.id().to_string());
    assert_eq!(body["role"], role);
    assert_eq!(body["active"], true);
    assert_eq!(
        body["signing_key"],
        B64(registered.signing_key.to_sec1_bytes()).encode()
    );
    assert_eq!(body["hpke_key"], registered.hpke_key.encode());
    match registered.paillier {
        Some(paillier) => {
            assert_eq!(body["paillier"]["public_key"], paillier.public_key.encode());
            assert_eq!(body["paillier"]["key_proof"], paillier.key_proof.encode());
        }
        None => assert!(body["paillier"].is_null(), "{body}"),
    }
    let mut fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "active",
            "actor",
            "hpke_key",
            "paillier",
            "role",
            "signing_key"
        ],
        "only public material may be returned"
    );
}

#[actix_web::test]
async fn a_doctor_fetches_a_patients_keys_and_a_patient_a_doctors() {
    let mut app = start().await;
    let doctor = app.approved(Role::Doctor).await;
    let insurer = app.approved(Role::Insurer).await;
    let patient = app.patient(0).await;
    let path = format!("/v1/identities/{}", patient.id());

    let reply = app.get(&path, &doctor.token).await;
    same_keys(&reply, &patient, "patient");
    assert_ne!(
        reply.body["paillier"]["public_key"],
        B64(crate::support::paillier_key(1).public_key().to_bytes()).encode(),
        "the patient registered key slot 0, not 1"
    );
    same_keys(&app.get(&path, &insurer.token).await, &patient, "patient");

    let path = format!("/v1/identities/{}", doctor.id());
    same_keys(&app.get(&path, &patient.token).await, &doctor, "doctor");
}

#[actix_web::test]
async fn identities_refuse_anonymous_unknown_and_malformed_actors() {
    let mut app = start().await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;

    let path = format!("/v1/identities/{}", patient.id());
    let anonymous = app.send(Method::GET, &path, None, None, None).await;
    anonymous.assert_problem(StatusCode::UNAUTHORIZED);
    assert!(anonymous.body.get("hpke_key").is_none());

    let stranger = SigningKey::generate(&mut app.rng).actor_id();
    let unknown = app
        .get(&format!("/v1/identities/{stranger}"), &doctor.token)
        .await;
    unknown.assert_problem(StatusCode::NOT_FOUND);

    let upper = patient.id().to_string().to_uppercase();
    for bad in ["not-an-actor", "cc1234", upper.as_str(), "%00"] {
        let reply = app
            .get(&format!("/v1/identities/{bad}"), &doctor.token)
            .await;
        reply.assert_problem(StatusCode::BAD_REQUEST);
        assert!(
            reply.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("actor")),
            "{bad}: {reply:?}"
        );
    }
}
