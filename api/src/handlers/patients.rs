//! Patients: self-registration (forwarded), own records, the access log, and
//! the readers a doctor with a write grant must wrap a new record's key for.

use actix_web::{HttpResponse, get, http::StatusCode, post, web};
use carechain_core::ids::B64;
use carechain_core::ledger::{
    AccessLogEntry, AccessRequestState, ErrorCode, Identity, KeyedRecord, MAX_PAGE, Page, PageArgs,
    Query, Reader, RecordState, RequestStatus,
};
use carechain_core::statement::{AccessAction, Action, RecordCategory, Role};

use crate::auth::Caller;
use crate::db::{self, accounts, models};
use crate::error::ApiError;
use crate::forward;
use crate::handlers::{caller_page, page_args, path_id};
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;
use crate::types::{
    AccountRole, PageQuery, PatientRegistered, ReadersQuery, StatementRequest, status,
};

/// A patient registers with a self-signed `register_identity` statement.
/// A Paillier modulus over the relay's `paillier_max_bits` is refused (422)
/// before anything else is done with it; registrations are rate limited per
/// client and in all (429).
#[utoipa::path(tag = "patients", request_body = StatementRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = PatientRegistered), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, description = "the Paillier modulus is over the relay's cap", body = crate::error::Problem),
        (status = 429, body = crate::error::Problem)))]
#[post("/v1/patients")]
pub async fn register(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    idem: IdempotencyKey,
    body: web::Json<StatementRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let statement = forward::peek(&body.statement)?;
    let Action::RegisterIdentity(registration) = &statement.act else {
        return Err(ApiError::forbidden(
            "expected a register_identity statement",
        ));
    };
    if registration.role != Role::Patient || registration.signing_key.actor_id() != statement.iss {
        return Err(ApiError::forbidden(
            "expected a patient's registration signed by the key it registers",
        ));
    }
    if let Some(paillier) = &registration.paillier {
        let bits = carechain_core::paillier::encoded_modulus_bits(paillier.public_key.as_bytes());
        let max = state.config.paillier_max_bits;
        if bits > max as usize {
            return Err(ApiError::Unprocessable {
                code: "paillier_modulus_too_large",
                detail: format!(
                    "paillier.public_key: expected a modulus of at most {max} bits, found {bits} bits"
                ),
            });
        }
    }
    state
        .creation
        .registration(&state.pool, &crate::auth::client_ip(&req))
        .await?;
    let actor = statement.iss.to_string();
    let signing_key = B64(registration.signing_key.to_sec1_bytes()).encode();
    let hpke_key = registration.hpke_key.encode();
    let display_name = registration
        .display_name
        .chars()
        .take(200)
        .collect::<String>();
    let scope = format!("anon:{actor}");
    let st = state.clone();
    let token = body.statement.clone();
    idem.once(&state, &scope, true, &body, || async move {
        let taken = actor.clone();
        if db::run(&st.pool, move |conn| accounts::by_actor(conn, &taken))
            .await?
            .is_some()
        {
            return Err(ApiError::Conflict(
                "this patient is already registered".into(),
            ));
        }
        let tx_id = match forward::submit(&st, &token).await {
            Ok(submitted) => Some(submitted.tx_id),
            // An earlier attempt committed on the ledger but stopped before the
            // account was stored: adopt the identity if it is this very key.
            Err(ApiError::Ledger { code, .. }) if code == ErrorCode::AlreadyExists.as_str() => {
                let identity: Identity = forward::query(
                    &st,
                    Query::Identity {
                        actor: actor.clone(),
                    },
                )
                .await?;
                if identity.role != Role::Patient
                    || B64(identity.signing_key.to_sec1_bytes()).encode() != signing_key
                {
                    return Err(ApiError::Conflict(
                        "this identity is already registered".into(),
                    ));
                }
                None
            }
            Err(e) => return Err(e),
        };
        let now = db::now();
        let id = uuid::Uuid::new_v4().to_string();
        let account = models::Account {
            id: id.clone(),
            role: AccountRole::Patient.as_str().into(),
            email: None,
            password_hash: None,
            actor_id: Some(actor.clone()),
            display_name,
            status: status::ACTIVE.into(),
            created_at: now,
        };
        let device = models::Device {
            id: uuid::Uuid::new_v4().to_string(),
            account_id: id.clone(),
            actor_id: actor.clone(),
            signing_key,
            hpke_key,
            created_at: now,
        };
        db::run(&st.pool, move |conn| {
            accounts::create(conn, &account, Some(&device))
        })
        .await?;
        tracing::info!(account = %id, "patient registered");
        Ok((
            StatusCode::CREATED,
            PatientRegistered {
                account_id: id,
                actor,
                tx_id,
            },
        ))
    })
    .await
}

/// The patient's own records (ciphertext), each with its data key wrapped for the patient.
#[utoipa::path(tag = "patients", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = carechain_core::ledger::Page<carechain_core::ledger::KeyedRecord>), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
#[get("/v1/patients/me/records")]
pub async fn my_records(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller_page::<KeyedRecord>(
        &state,
        &caller,
        &[AccountRole::Patient],
        &query,
        |_, patient, page| Query::RecordsWithKeys {
            reader: patient.clone(),
            patient,
            page,
        },
    )
    .await
}

/// Who read the patient's records, and when.
#[utoipa::path(tag = "patients", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = carechain_core::ledger::Page<carechain_core::ledger::AccessLogEntry>), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
#[get("/v1/patients/me/access-log")]
pub async fn access_log(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller_page::<AccessLogEntry>(
        &state,
        &caller,
        &[AccountRole::Patient],
        &query,
        |_, patient, page| Query::AccessLog { patient, page },
    )
    .await
}

/// The doctor's granted requests from `patient` (scanning the doctor's requests).
pub(crate) async fn grants_from(
    state: &AppState,
    doctor: &str,
    patient: &str,
) -> Result<Vec<AccessRequestState>, ApiError> {
    let mut after = None;
    let mut grants = Vec::new();
    loop {
        let page: Page<AccessRequestState> = forward::query(
            state,
            Query::RequestsByDoctor {
                doctor: doctor.to_owned(),
                page: PageArgs::new(after, MAX_PAGE),
            },
        )
        .await?;
        grants.extend(
            page.items
                .into_iter()
                .filter(|r| r.patient.as_str() == patient && r.status == RequestStatus::Granted),
        );
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(grants),
        }
    }
}

/// Whether the doctor holds a current write grant from `patient` covering `category`.
pub(crate) async fn has_write_grant(
    state: &AppState,
    doctor: &str,
    patient: &str,
    category: RecordCategory,
) -> Result<bool, ApiError> {
    let now = db::now();
    Ok(grants_from(state, doctor, patient)
        .await?
        .iter()
        .any(|r| r.allows(AccessAction::Write, category, now)))
}

/// The records of patient `id` that a doctor's current read grants cover
/// (reading one is still the logged `POST /v1/records/{id}/read`).
#[utoipa::path(tag = "patients", security(("bearer" = [])), params(("id" = String, Path, description = "patient actor id"), PageQuery),
    responses((status = 200, body = carechain_core::ledger::Page<carechain_core::ledger::RecordState>), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[get("/v1/patients/{id}/records")]
pub async fn records_of(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Doctor])?;
    crate::handlers::unfiltered(&query)?;
    let patient = path_id(&path)?;
    let page = page_args(&query)?;
    let now = db::now();
    let grants: Vec<AccessRequestState> = grants_from(&state, caller.actor()?, patient)
        .await?
        .into_iter()
        .filter(|g| g.grant.as_ref().is_some_and(|t| now < t.expires_at))
        .collect();
    if grants.is_empty() {
        return Err(ApiError::NotFound);
    }
    let page: Page<RecordState> = forward::query(
        &state,
        Query::RecordsForPatient {
            patient: patient.to_owned(),
            page,
        },
    )
    .await?;
    let items = page
        .items
        .into_iter()
        .filter(|r| {
            grants
                .iter()
                .any(|g| g.allows(AccessAction::Read, r.category, now))
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page {
        items,
        next: page.next,
    }))
}

/// The readers of a patient's records of `category` (actor and HPKE key), for
/// a doctor with a current write grant covering it.
#[utoipa::path(tag = "patients", security(("bearer" = [])), params(("id" = String, Path, description = "patient actor id"), ReadersQuery),
    responses((status = 200, body = Vec<carechain_core::ledger::Reader>), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[get("/v1/patients/{id}/readers")]
pub async fn readers(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ReadersQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Doctor])?;
    let patient = path_id(&path)?;
    let category: RecordCategory =
        serde_json::from_value(serde_json::Value::String(query.category.clone()))
            .map_err(|_| ApiError::bad_request("category: expected a record category"))?;
    if !has_write_grant(&state, caller.actor()?, patient, category).await? {
        return Err(ApiError::NotFound);
    }
    let patient = patient.parse().map_err(|_| ApiError::NotFound)?;
    let readers: Vec<Reader> = forward::query(&state, Query::Readers { patient, category }).await?;
    Ok(HttpResponse::Ok().json(readers))
}
