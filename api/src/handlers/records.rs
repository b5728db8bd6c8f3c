//! Records: doctors write ciphertext; the patient reads their own (a query);
//! a doctor reads through a logged `read_record` transaction.

use actix_web::{HttpResponse, get, http::StatusCode, post, web};
use carechain_core::ledger::{Query, RecordForReader, RecordState, WrappedKeyState};
use carechain_core::statement::Action;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::handlers::{Expect, path_id, submit_signed};
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;
use crate::types::{AccountRole, RecordRead, StatementRequest, Submitted};

/// A doctor with a write grant writes a record with a signed `write_record`.
#[utoipa::path(tag = "records", security(("bearer" = [])), request_body = StatementRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = Submitted), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[post("/v1/records")]
pub async fn write(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    body: web::Json<StatementRequest>,
) -> Result<HttpResponse, ApiError> {
    submit_signed(
        &state,
        &caller,
        idem,
        body.into_inner(),
        Expect {
            roles: &[AccountRole::Doctor],
            kind: "write_record",
            status: StatusCode::CREATED,
        },
        |_| Ok(()),
    )
    .await
}

/// The patient's own record and the data key wrapped for the patient.
#[utoipa::path(tag = "records", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RecordRead), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[get("/v1/records/{id}")]
pub async fn get_own(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Patient])?;
    let id = path_id(&path)?;
    let record: RecordState = forward::query(
        &state,
        Query::Record {
            record: id.to_owned(),
        },
    )
    .await?;
    let actor = caller.actor()?;
    if record.patient.as_str() != actor {
        return Err(ApiError::NotFound);
    }
    let key: WrappedKeyState = forward::query(
        &state,
        Query::RecordKey {
            record: id.to_owned(),
            reader: actor.to_owned(),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(RecordRead {
        tx_id: None,
        record,
        key,
    }))
}

/// A doctor reads a record with a signed `read_record`, logged on the ledger.
#[utoipa::path(tag = "records", security(("bearer" = [])), request_body = StatementRequest,
    params(("id" = String, Path), ("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 200, body = RecordRead), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[post("/v1/records/{id}/read")]
pub async fn read(
    state: web::Data<AppState>,
    caller: Caller,
    idem: IdempotencyKey,
    path: web::Path<String>,
    body: web::Json<StatementRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[AccountRole::Doctor])?;
    let id = path_id(&path)?.to_owned();
    let body = body.into_inner();
    let statement = forward::check(&caller, &body.statement, "read_record")?;
    match &statement.act {
        Action::ReadRecord(r) => forward::same_id(&id, r.record)?,
        _ => return Err(ApiError::forbidden("expected a read_record statement")),
    }
    let st = state.clone();
    let token = body.statement.clone();
    idem.once_on_ledger(&state, &caller.account, &body, || async move {
        // The contract refuses a reader without a grant; its refusal is the
        // answer. Its answer holds the record and this reader's key: one call.
        let submitted = forward::submit(&st, &token).await?;
        let read: RecordForReader = serde_json::from_value(submitted.result).map_err(|e| {
            ApiError::internal(format!("ledger answered read_record with bad JSON: {e}"))
        })?;
        Ok((
            StatusCode::OK,
            RecordRead {
                tx_id: Some(submitted.tx_id),
                record: read.record,
                key: read.key,
            },
        ))
    })
    .await
}
