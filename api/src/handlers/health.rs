//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;
use crate::types::Health;

/// Liveness: the process answers.
#[utoipa::path(tag = "health", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database and the ledger answer.
#[utoipa::path(tag = "health", responses((status = 200, body = Health), (status = 503, body = crate::error::Problem)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    db::run(&state.pool, |conn| db::outbox::cursor(conn).map(|_| ()))
        .await
        .map_err(|e| ApiError::unavailable(format!("database not ready: {e}")))?;
    state
        .ledger
        .height()
        .await
        .map_err(|e| ApiError::unavailable(format!("ledger not ready: {e}")))?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok".into(),
    }))
}
