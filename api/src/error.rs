//! The one HTTP error type: every failure becomes an RFC 9457 problem
//! (`application/problem+json`) with a stable `type` per error. The relay's
//! own refusals are `{PROBLEM_BASE}<code>`; the contract's are
//! `{PROBLEM_BASE}ledger/<code>`, so a client can tell "the relay refused"
//! from "the ledger refused" even where both use a code such as `conflict`.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use carechain_ledger::LedgerError;
use serde::Serialize;
use utoipa::ToSchema;

/// The base of every problem `type`.
pub const PROBLEM_BASE: &str = "https://carechain.dev/problems/";
/// The segment after [`PROBLEM_BASE`] that marks a contract's refusal.
pub const LEDGER_PROBLEM_SEGMENT: &str = "ledger/";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the error kind, stable across releases.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (JSON, types, query, statement encoding).
    #[error("{0}")]
    BadRequest(String),
    /// Missing, invalid or expired credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but this role or actor may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such object, or not one the caller may see.
    #[error("not found")]
    NotFound,
    /// The path is known but not served with this method.
    #[error("{method} is not allowed here; expected one of: {}", allow.join(", "))]
    MethodNotAllowed {
        /// The request's method.
        method: String,
        /// The methods the path is served with, in `Allow` order.
        allow: Vec<String>,
    },
    /// The object exists or is in a state that forbids the request.
    #[error("{0}")]
    Conflict(String),
    /// A POST without the `Idempotency-Key` it requires.
    #[error("this request needs an Idempotency-Key header")]
    IdempotencyKeyRequired,
    /// The `Idempotency-Key` was used before with another request body.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    /// The request is well-formed but its content is refused by a policy
    /// (a push endpoint that is not public, a Paillier modulus over the cap).
    #[error("{detail}")]
    Unprocessable {
        /// The stable code that ends the problem `type`.
        code: &'static str,
        /// What was expected and what was found.
        detail: String,
    },
    /// The body exceeds the size limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Too many attempts.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until an attempt would be allowed (the `Retry-After` header).
        retry_after_secs: u64,
    },
    /// The contract refused the transaction.
    #[error("{message}")]
    Ledger {
        /// The contract's HTTP-like status.
        status: u16,
        /// The contract's stable code.
        code: String,
        /// Its explanation.
        message: String,
    },
    /// A dependency (database, ledger) is down.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an operator problem; the detail is logged, not returned.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// Shorthand for [`ApiError::Internal`].
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError::Internal(detail.into())
    }

    /// Shorthand for [`ApiError::Unavailable`].
    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError::Unavailable(detail.into())
    }

    /// Shorthand for [`ApiError::BadRequest`].
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::BadRequest(detail.into())
    }

    /// Shorthand for [`ApiError::Forbidden`].
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::Forbidden(detail.into())
    }

    /// The stable code that ends the problem `type` (the contract's own
    /// code for a ledger refusal).
    pub fn code(&self) -> &str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::IdempotencyKeyRequired => "idempotency_key_required",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Ledger { code, .. } => code,
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The problem document.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let detail = match self {
            ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let segment = match self {
            ApiError::Ledger { .. } => LEDGER_PROBLEM_SEGMENT,
            _ => "",
        };
        Problem {
            kind: format!("{PROBLEM_BASE}{segment}{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::IdempotencyKeyRequired => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::IdempotencyKeyReused | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Ledger { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
        }
        let body = serde_json::to_string(&self.problem()).unwrap_or_default();
        let mut response = HttpResponse::build(status);
        response.insert_header(ContentType(problem_mime()));
        match self {
            ApiError::MethodNotAllowed { allow, .. } => {
                response.insert_header((actix_web::http::header::ALLOW, allow.join(", ")));
            }
            ApiError::RateLimited { retry_after_secs } => {
                response.insert_header((
                    actix_web::http::header::RETRY_AFTER,
                    retry_after_secs.to_string(),
                ));
            }
            _ => {}
        }
        response.body(body)
    }
}

/// `application/problem+json`.
pub fn problem_mime() -> mime::Mime {
    "application/problem+json"
        .parse()
        .unwrap_or(mime::APPLICATION_JSON)
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::Conflict("already exists".into())
            }
            other => ApiError::Internal(format!("database: {other}")),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(format!("blocking task: {e}"))
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Refused {
                status,
                code,
                message,
            } => ApiError::Ledger {
                status,
                code,
                message,
            },
            LedgerError::Unavailable(m) => ApiError::Unavailable(format!("ledger: {m}")),
            // Nothing took effect, or the outcome is not known yet: the
            // client may retry with the same statement and Idempotency-Key.
            e @ (LedgerError::NotCommitted { .. }
            | LedgerError::Timeout { .. }
            | LedgerError::Uncertain { .. }) => ApiError::Unavailable(format!("ledger: {e}")),
            other => ApiError::Internal(format!("ledger: {other}")),
        }
    }
}
