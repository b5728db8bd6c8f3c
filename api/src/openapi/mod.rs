//! The OpenAPI 3.1 document, generated from the handlers' annotations,
//! with the error answers completed by [`problems`].

pub mod problems;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::Problem;
use crate::handlers::{
    admin, auth, claims, health, identities, patients, policies, products, records, requests,
};
use crate::types::*;

/// Adds the bearer-token security scheme.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
    }
}

/// The API description served at `/v1/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "CareChain relay", description = "Forwards signed statements to the CareChain ledger; accounts and authentication."),
    paths(
        health::healthz, health::readyz,
        auth::signup, auth::login, auth::refresh, auth::challenge, auth::patient_login, auth::me,
        patients::register, patients::my_records, patients::access_log, patients::readers, patients::records_of,
        admin::list_accounts, admin::approve, admin::suspend, admin::audit,
        requests::create, requests::list, requests::get_one, requests::grant_context, requests::grant, requests::deny, requests::revoke,
        records::write, records::get_own, records::read,
        products::publish, products::list, products::get_one,
        policies::purchase, policies::issue, policies::decline, policies::list, policies::get_one, policies::claim_context,
        claims::file, claims::list, claims::get_one, claims::paid,
        identities::get_one,
    ),
    components(schemas(
        Problem, AccountRole, SignupRequest, AccountView, LoginRequest, TokenResponse,
        RefreshRequest, StatementRequest, PatientRegistered, ChallengeRequest, ChallengeResponse,
        PatientLoginRequest, Submitted, AccountPage, RecordRead, AuditEntry, AuditPage, Health,
        IdentityKeys, PaillierKeyView,
    )),
    modifiers(&Bearer),
)]
pub struct ApiDoc;

/// The whole API description: the relay's routes and the push routes.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::push::PushDoc::openapi());
    problems::declare(&mut doc);
    doc
}
