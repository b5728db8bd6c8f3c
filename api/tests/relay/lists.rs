//! Cursor pagination, with and without a status filter.

use actix_web::http::StatusCode;
use carechain_core::statement::{Action, Deny, Role};

use crate::support::start;
use crate::world::ok;

#[actix_web::test]
async fn lists_page_with_cursors_and_filters_by_status() {
    let mut app = start().await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.ask(&doctor, &patient).await);
    }
    let act = Action::Deny(Deny { request: ids[1] });
    let path = format!("/v1/requests/{}/deny", ids[1]);
    app.submit(&path, &patient, act, StatusCode::OK).await;

    let mut seen = Vec::new();
    let mut url = "/v1/requests?limit=2".to_owned();
    loop {
        let page = app.get(&url, &patient.token).await;
        ok(&page, StatusCode::OK);
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["request"].as_str().unwrap().to_owned());
        }
        match page.body["next"].as_str() {
            Some(next) => url = format!("/v1/requests?limit=2&after={next}"),
            None => break,
        }
    }
    seen.sort();
    let mut all: Vec<String> = ids.iter().map(ToString::to_string).collect();
    all.sort();
    assert_eq!(seen, all);

    let mut pending = Vec::new();
    let mut url = "/v1/requests?status=pending&limit=1".to_owned();
    for _ in 0..5 {
        let page = app.get(&url, &patient.token).await;
        ok(&page, StatusCode::OK);
        for item in page.body["items"].as_array().unwrap() {
            assert_eq!(item["status"], "pending");
            pending.push(item["request"].as_str().unwrap().to_owned());
        }
        match page.body["next"].as_str() {
            Some(next) => url = format!("/v1/requests?status=pending&limit=1&after={next}"),
            None => break,
        }
    }
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert!(!pending.contains(&ids[1].to_string()));
}
