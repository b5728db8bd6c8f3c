//! 405 vs 404: every route of the OpenAPI document, asked with a method it
//! does not serve, answers 405 Method Not Allowed with the right `Allow`
//! header and a problem body; an unknown path stays a 404 problem.

use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;

use crate::support::start;

const METHODS: [Method; 6] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
];

/// The methods the document declares for `item`.
fn declared(item: &utoipa::openapi::PathItem) -> BTreeSet<String> {
    [
        ("GET", item.get.is_some()),
        ("POST", item.post.is_some()),
        ("PUT", item.put.is_some()),
        ("PATCH", item.patch.is_some()),
        ("DELETE", item.delete.is_some()),
        ("HEAD", item.head.is_some()),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(m, _)| m.to_owned())
    .collect()
}

/// A bare `method` request for `path`: no token, no body.
fn request(method: Method, path: &str) -> TestRequest {
    TestRequest::default().method(method).uri(path)
}

/// A concrete path for a template: each `{param}` becomes `x1`.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "x1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[actix_web::test]
async fn every_route_answers_405_with_allow_for_a_method_it_does_not_serve() {
    let app = start().await;
    let doc = carechain_api::openapi::document();
    let mut checked = 0;
    for (template, item) in &doc.paths.paths {
        let allowed = declared(item);
        assert!(!allowed.is_empty(), "{template} declares no method");
        let path = concrete(template);
        for method in METHODS {
            if allowed.contains(method.as_str()) {
                continue;
            }
            let res = app.raw(request(method.clone(), &path)).await;
            assert_eq!(
                res.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            let allow: BTreeSet<String> = res
                .header("allow")
                .unwrap_or_else(|| panic!("{method} {path}: no Allow header"))
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            assert_eq!(allow, allowed, "{method} {path}: Allow");
            assert_eq!(
                res.content_type, "application/problem+json",
                "{method} {path}"
            );
            if method != Method::HEAD {
                let body = &res.body;
                assert!(body.is_object(), "{method} {path}: a JSON problem body");
                assert_eq!(
                    body["type"], "https://carechain.dev/problems/method_not_allowed",
                    "{method} {path}: {body}"
                );
                assert_eq!(body["status"], 405);
                assert!(
                    body["detail"].as_str().unwrap().contains(method.as_str()),
                    "{body}"
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= doc.paths.paths.len() * 3,
        "only {checked} checks"
    );
}

#[actix_web::test]
async fn unknown_paths_stay_404_and_served_methods_are_not_405() {
    let app = start().await;
    for (method, path) in [
        (Method::GET, "/v1/nothing-here"),
        (Method::POST, "/v1/nothing-here"),
        (Method::DELETE, "/v1/requests/x1/grant/extra"),
        (Method::GET, "/v1/requests//grant"),
        (Method::PUT, "/v2/healthz"),
    ] {
        let res = app.raw(request(method.clone(), path)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert!(res.header("allow").is_none(), "{method} {path}");
        assert_eq!(res.body["type"], "https://carechain.dev/problems/not_found");
    }
    // Served methods still reach their handlers.
    let healthz = app.get("/healthz", "").await;
    assert_eq!(healthz.status, StatusCode::OK, "{healthz:?}");
    let docs = app
        .send(Method::GET, "/docs", None, None, None)
        .await
        .status;
    assert_eq!(docs, StatusCode::PERMANENT_REDIRECT);
    // Routes outside the document: Swagger UI and the metrics endpoint.
    for path in ["/docs", "/docs/index.html", "/v1/openapi.json", "/metrics"] {
        let res = app.raw(request(Method::POST, path)).await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED, "POST {path}");
        assert_eq!(res.header("allow"), Some("GET"), "POST {path}");
    }
}

#[test]
fn the_document_declares_every_error_answer_as_a_problem() {
    use utoipa::openapi::RefOr;
    let doc = carechain_api::openapi::document();
    let mut operations = 0;
    for (template, item) in &doc.paths.paths {
        let ops = [&item.get, &item.post, &item.put, &item.patch, &item.delete];
        for op in ops.into_iter().flatten() {
            operations += 1;
            let responses = &op.responses.responses;
            for status in ["400", "405", "503"] {
                assert!(responses.contains_key(status), "{template}: no {status}");
            }
            if op.request_body.is_some() {
                assert!(responses.contains_key("413"), "{template}: no 413");
            }
            for (status, response) in responses {
                let RefOr::T(response) = response else {
                    continue;
                };
                if status.starts_with(['4', '5']) {
                    let types: Vec<&String> = response.content.keys().collect();
                    assert_eq!(types, ["application/problem+json"], "{template} {status}");
                }
            }
        }
    }
    assert!(operations > 40, "only {operations} operations");
    let signup = doc.paths.paths["/v1/accounts"].post.as_ref().unwrap();
    assert!(signup.responses.responses.contains_key("429"));
    let grant = doc.paths.paths["/v1/requests/{id}/grant"]
        .post
        .as_ref()
        .unwrap();
    for status in ["409", "422"] {
        assert!(
            grant.responses.responses.contains_key(status),
            "grant: {status}"
        );
    }
}
