//! The application: routes, extractor configuration (size limits, problem
//! responses for malformed input), middleware, OpenAPI and Swagger UI.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, guard, web};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::handlers::{
    admin, auth, claims, health, identities, patients, policies, products, records, requests,
};
use crate::methods::MethodTable;
use crate::state::AppState;

/// Prometheus metrics (request counts and latency by route pattern and status) at `/metrics`.
pub fn metrics() -> Result<PrometheusMetrics, ApiError> {
    PrometheusMetricsBuilder::new("carechain_relay")
        .endpoint("/metrics")
        .mask_unmatched_patterns("UNKNOWN")
        .build()
        .map_err(|e| ApiError::internal(format!("metrics: {e}")))
}

fn json_error(err: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    match err {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::PayloadTooLarge(format!("the body exceeds {limit} bytes")).into()
        }
        JsonPayloadError::ContentType => {
            ApiError::bad_request("expected Content-Type: application/json").into()
        }
        JsonPayloadError::Deserialize(e) => {
            ApiError::bad_request(format!("invalid JSON: {e}")).into()
        }
        other => ApiError::bad_request(format!("invalid body: {other}")).into(),
    }
}

fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("invalid query: {err}")).into()
}

fn path_error(_: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound.into()
}

/// What no route served: 405 with `Allow` for a known path asked with
/// another method, 404 for an unknown path.
fn unrouted(table: &MethodTable, req: &HttpRequest) -> ApiError {
    let allowed = table.allowed(req.path());
    if allowed.is_empty() || allowed.contains(req.method()) {
        return ApiError::NotFound;
    }
    ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        allow: allowed.iter().map(ToString::to_string).collect(),
    }
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/docs/"))
        .finish()
}

/// Registers every route and the extractor configuration.
pub fn routes(cfg: &mut web::ServiceConfig, json_limit: usize) {
    let document = crate::openapi::document();
    let table = Arc::new(MethodTable::from_openapi(&document));
    cfg.app_data(
        web::JsonConfig::default()
            .limit(json_limit)
            .error_handler(json_error),
    )
    .app_data(web::PayloadConfig::default().limit(json_limit))
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .service(health::healthz)
    .service(health::readyz)
    .service(auth::signup)
    .service(auth::login)
    .service(auth::refresh)
    .service(auth::challenge)
    .service(auth::patient_login)
    .service(auth::me)
    .service(patients::register)
    .service(patients::my_records)
    .service(patients::access_log)
    .service(patients::readers)
    .service(patients::records_of)
    .service(admin::list_accounts)
    .service(admin::approve)
    .service(admin::suspend)
    .service(admin::audit)
    .service(requests::create)
    .service(requests::list)
    .service(requests::get_one)
    .service(requests::grant_context)
    .service(requests::grant)
    .service(requests::deny)
    .service(requests::revoke)
    .service(records::write)
    .service(records::get_own)
    .service(records::read)
    .service(products::publish)
    .service(products::list)
    .service(products::get_one)
    .service(identities::get_one)
    .service(policies::purchase)
    .service(policies::issue)
    .service(policies::decline)
    .service(policies::list)
    .service(policies::get_one)
    .service(policies::claim_context)
    .service(claims::file)
    .service(claims::list)
    .service(claims::get_one)
    .service(claims::paid)
    // A guard on the resource (not only on its route) so that other methods
    // fall through to the default service and get a 405 problem.
    .service(web::resource("/docs").guard(guard::Get()).to(docs_redirect))
    .service(SwaggerUi::new("/docs/{_:.*}").url("/v1/openapi.json", document))
    .default_service(web::to(move |req: HttpRequest| {
        let error = unrouted(&table, &req);
        async move { Err::<HttpResponse, ApiError>(error) }
    }));
}

/// Logs one line per request: method, route pattern (never the raw query), status, latency.
async fn log_request(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.match_pattern().unwrap_or_else(|| "UNKNOWN".into());
    let res = next.call(req).await?;
    tracing::info!(
        %method,
        route,
        status = res.status().as_u16(),
        latency_ms = start.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(res)
}

/// The Swagger UI's Content Security Policy: its own scripts and styles
/// (the UI sets inline styles), images also as `data:`, fetches of the
/// OpenAPI document only, and no framing (clickjacking).
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Security headers: `X-Content-Type-Options: nosniff` on every response;
/// on the API documentation also a CSP and `X-Frame-Options: DENY`.
async fn security_headers(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::http::header::{
        CONTENT_SECURITY_POLICY, HeaderValue, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    let docs = req.path() == "/docs" || req.path().starts_with("/docs/");
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if docs {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP));
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    Ok(res)
}

/// The whole application for one worker.
pub fn app(
    state: web::Data<AppState>,
    metrics: PrometheusMetrics,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = state.config.json_limit_bytes;
    App::new()
        .app_data(state)
        .wrap(from_fn(security_headers))
        .wrap(from_fn(log_request))
        .wrap(metrics)
        .configure(crate::push::routes)
        .configure(|cfg| routes(cfg, limit))
}
