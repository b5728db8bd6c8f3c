//! Insurance products: insurers publish; every authenticated caller lists.

use actix_web::{HttpResponse, get, post, web};
use carechain_core::ledger::{Page, ProductState, Query};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forward;
use crate::handlers::{forward_new, page_args, path_id};
use crate::state::AppState;
use crate::types::{AccountRole, PageQuery};

statement_post! {
    /// An insurer publishes a product with a signed `publish_product`.
    publish, "/v1/products", tag = "products", 201 => forward_new, &[AccountRole::Insurer], "publish_product"
}

/// Every product.
#[utoipa::path(operation_id = "products_list", tag = "products", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = carechain_core::ledger::Page<carechain_core::ledger::ProductState>), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem)))]
#[get("/v1/products")]
pub async fn list(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    crate::handlers::unfiltered(&query)?;
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
