//! Public identity keys: what a doctor needs to encrypt a record for a patient
//! (Paillier and HPKE keys), what a patient needs to re-wrap data keys for a
//! doctor (HPKE key), what an insurer needs to issue a policy (Paillier key).
//! Only public material leaves here; display names and registration details
//! stay on the ledger.

use actix_web::{HttpResponse, get, web};

use carechain_core::ids::ActorId;
use carechain_core::ledger::{Identity, Query};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::state::AppState;
use crate::types::{AccountRole, IdentityKeys, PaillierKeyView};

/// The public part of a ledger identity.
fn public_keys(identity: Identity) -> IdentityKeys {
    IdentityKeys {
        actor: identity.actor.to_string(),
        role: AccountRole::from_ledger_role(identity.role),
        active: identity.active,
        signing_key: carechain_core::ids::B64(identity.signing_key.to_sec1_bytes()).encode(),
        hpke_key: identity.hpke_key.encode(),
        paillier: identity.paillier.map(|p| PaillierKeyView {
            public_key: p.public_key.encode(),
            key_proof: p.key_proof.encode(),
        }),
    }
}

/// A registered identity's public keys; any authenticated caller may ask.
#[utoipa::path(operation_id = "identities_get_one", tag = "identities", security(("bearer" = [])),
    params(("actor" = String, Path, description = "actor id: `cc` and 40 lowercase hex digits")),
    responses((status = 200, body = IdentityKeys), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[get("/v1/identities/{actor}")]
pub async fn get_one(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = path
        .as_str()
        .parse::<ActorId>()
        .map_err(|e| ApiError::bad_request(format!("actor: {e}")))?;
    let identity: Identity = forward::query(
        &state,
        Query::Identity {
            actor: actor.to_string(),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(public_keys(identity)))
}
