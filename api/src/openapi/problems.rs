//! The error answers the OpenAPI document declares, made to match what the
//! relay sends: every 4xx and 5xx body is an RFC 9457 problem, served as
//! `application/problem+json`; every operation may answer 400 (a malformed
//! query or path), 405 (another method on its path, with `Allow`) and 503
//! (the ledger unavailable); one with a body also 413 (over the JSON limit);
//! one that takes an `Idempotency-Key` also 409 (the key in flight) and 422
//! (the key reused with another body); the unauthenticated creations and
//! logins also 429 (rate limited, with `Retry-After`).

use utoipa::openapi::content::Content;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::Response;
use utoipa::openapi::{OpenApi, Ref, RefOr};

/// The media type of a problem body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The operations limited per client address: sign-up, the two logins, the
/// patient's challenge and registration.
const RATE_LIMITED: [&str; 5] = [
    "/v1/accounts",
    "/v1/auth/login",
    "/v1/auth/challenge",
    "/v1/auth/patient-login",
    "/v1/patients",
];

/// Relabels and completes the error answers of every operation in `doc`.
pub fn declare(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            (&mut item.get, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.delete, true),
            (&mut item.patch, true),
        ];
        for (operation, writes) in operations {
            if let Some(operation) = operation.as_mut() {
                complete(operation, path, writes);
            }
        }
    }
}

/// One operation: problem bodies relabelled, the common errors added.
fn complete(operation: &mut Operation, path: &str, writes: bool) {
    let responses = &mut operation.responses.responses;
    for (status, response) in responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with(['4', '5']), response)
            && let Some(content) = response.content.shift_remove("application/json")
        {
            response.content.insert(PROBLEM_JSON.into(), content);
        }
    }
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(problem(description)));
    };
    add("400", "Malformed request");
    add("405", "Method not allowed on this path (see Allow)");
    add("503", "The ledger is unavailable; retry later");
    if writes && operation.request_body.is_some() {
        add("413", "The body exceeds the JSON limit");
    }
    let idempotent = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.name.eq_ignore_ascii_case("Idempotency-Key"));
    if idempotent {
        add(
            "409",
            "The Idempotency-Key is in use by a request still running",
        );
        add("422", "The Idempotency-Key was used with another body");
    }
    if writes && RATE_LIMITED.contains(&path) {
        add("429", "Rate limited; see Retry-After");
    }
}

/// A response of `description` whose body is a problem.
fn problem(description: &str) -> Response {
    let mut response = Response::new(description);
    let schema = RefOr::Ref(Ref::from_schema_name("Problem"));
    response
        .content
        .insert(PROBLEM_JSON.into(), Content::new(Some(schema)));
    response
}
