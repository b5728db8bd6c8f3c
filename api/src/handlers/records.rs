//! Records: doctors write ciphertext; the patient reads their own (a query);
//! a doctor reads through a logged `read_record` transaction.

use actix_web::{HttpResponse, get, post, web};
use carechain_core::ledger::{Query, RecordForReader, RecordState, WrappedKeyState};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::handlers::{Expect, forward_new, forward_signed, path_id};
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;
use crate::types::{AccountRole, RecordRead, StatementRequest};

statement_post! {
    /// A doctor with a write grant writes a record with a signed `write_record`.
    write, "/v1/records", tag = "records", 201 => forward_new, &[AccountRole::Doctor], "write_record"
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

/// A doctor reads a record with a signed `read_record`, logged on the ledger;
/// another's record and an unknown id are answered alike (404).
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
    let expect = Expect::ok(&[AccountRole::Doctor], "read_record");
    let id = path.into_inner();
    forward_signed(
        &state,
        &caller,
        idem,
        body.into_inner(),
        expect,
        Some(&id),
        |_, submitted| async move {
            // The contract refuses a reader without a grant (403) and an
            // unknown record (404); both are answered 404 alike, so that a
            // read is no oracle of which record ids exist. The contract's
            // answer holds the record and this reader's key: one call.
            let submitted = submitted.map_err(|e| match e {
                ApiError::Ledger {
                    status: 403 | 404, ..
                } => ApiError::NotFound,
                other => other,
            })?;
            let read: RecordForReader = serde_json::from_value(submitted.result).map_err(|e| {
                ApiError::internal(format!("ledger answered read_record with bad JSON: {e}"))
            })?;
            Ok(RecordRead {
                tx_id: Some(submitted.tx_id),
                record: read.record,
                key: read.key,
            })
        },
    )
    .await
}
