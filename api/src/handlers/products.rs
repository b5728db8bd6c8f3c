//! Insurance products: insurers publish; every authenticated caller lists.

use actix_web::{HttpResponse, get, http::StatusCode, post, web};
use carechain_core::ledger::{Page, ProductState, Query};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::handlers::{Expect, page_args, path_id, submit_signed};
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;
use crate::types::{AccountRole, PageQuery, StatementRequest, Submitted};

/// An insurer publishes a product with a signed `publish_product`.
#[utoipa::path(tag = "products", security(("bearer" = [])), request_body = StatementRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = Submitted), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
#[post("/v1/products")]
pub async fn publish(
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
            roles: &[AccountRole::Insurer],
            kind: "publish_product",
            status: StatusCode::CREATED,
        },
        |_| Ok(()),
    )
    .await
}

/// Every product.
#[utoipa::path(operation_id = "products_list", tag = "products", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = carechain_core::ledger::Page<carechain_core::ledger::ProductState>), (status = 401, body = crate::error::Problem)))]
#[get("/v1/products")]
pub async fn list(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_args(&query)?;
    let page: Page<ProductState> = forward::query(&state, Query::Products { page }).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One product.
#[utoipa::path(operation_id = "products_get_one", tag = "products", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = carechain_core::ledger::ProductState), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
#[get("/v1/products/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let product: ProductState = forward::query(
        &state,
        Query::Product {
            product: path_id(&path)?.to_owned(),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(product))
}
