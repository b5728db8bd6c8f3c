//! The relay's Paillier modulus cap: an oversized key is refused (422)
//! before the ledger sees it, and a new ledger's `init` fixes the same cap
//! in the contract.

use actix_web::http::StatusCode;

use carechain_core::ids::B64;

use crate::support::start;

#[actix_web::test]
async fn an_8192_bit_patient_registration_is_refused_before_the_ledger() {
    let mut app = start().await;
    let mut patient = app.new_patient_keys(0);
    let mut registration = patient.registration();
    if let Some(paillier) = registration.paillier.as_mut() {
        paillier.public_key = B64(vec![0xff; 1024]);
        paillier.key_proof = B64(vec![1; 4 + 8 * 1024]);
    }
    patient.paillier = None;
    let statement = app.sign(
        &patient.key,
        carechain_core::statement::Action::RegisterIdentity(registration),
    );
    let reply = app.post_statement("/v1/patients", None, &statement).await;
    reply.assert_problem_of(
        StatusCode::UNPROCESSABLE_ENTITY,
        "paillier_modulus_too_large",
    );
    assert!(
        reply.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("at most 3072 bits, found 8192 bits")),
        "{reply:?}"
    );
    // Nothing reached the ledger: no identity, no account.
    let actor = patient.id().to_string();
    let identity = carechain_api::forward::query::<serde_json::Value>(
        &app.state,
        carechain_core::ledger::Query::Identity {
            actor: actor.clone(),
        },
    )
    .await;
    assert!(identity.is_err(), "{identity:?}");
    let account = carechain_api::db::run(&app.state.pool, move |c| {
        carechain_api::db::accounts::by_actor(c, &actor)
    })
    .await
    .unwrap();
    assert!(account.is_none());
}

#[actix_web::test]
async fn a_new_ledger_is_initialised_with_the_relays_cap() {
    let app = start().await;
    let config: serde_json::Value =
        carechain_api::forward::query(&app.state, carechain_core::ledger::Query::Config {})
            .await
            .unwrap();
    assert_eq!(config["max_paillier_bits"], 3072, "{config}");
}
