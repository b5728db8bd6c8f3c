//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};
use carechain_core::ledger::{PageArgs, Query};
use carechain_ledger::{LedgerError, Proposal};

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

/// Readiness: the database answers and the contract answers a query.
///
/// The ledger's height alone is not enough: on Fabric the peer answers it
/// while the chaincode server is down or no set of peers can endorse, and
/// then every statement would fail. So readiness evaluates the contract (a
/// one-item page of products, O(1) on every backend); the contract's own
/// refusal still proves it runs.
#[utoipa::path(tag = "health", responses((status = 200, body = Health), (status = 503, body = crate::error::Problem)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    db::run(&state.pool, |conn| db::outbox::cursor(conn).map(|_| ()))
        .await
        .map_err(|e| ApiError::unavailable(format!("database not ready: {e}")))?;
    let probe = Query::Products {
        page: PageArgs::new(None, 1),
    };
    match state
        .ledger
        .evaluate(Proposal::new(probe.name(), probe.args()))
        .await
    {
        Ok(_) | Err(LedgerError::Refused { .. }) => Ok(HttpResponse::Ok().json(Health {
            status: "ok".into(),
        })),
        Err(e) => Err(ApiError::unavailable(format!("ledger not ready: {e}"))),
    }
}
