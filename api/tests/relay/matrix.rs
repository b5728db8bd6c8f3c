//! The authorization matrix: every route × every role, against objects that
//! belong to the scenario's "A" actors. Callers who are not a party are
//! refused (401, 403 or 404); on list routes, callers of the right role get
//! only their own objects. A test checks the matrix covers exactly the routes
//! of the OpenAPI document.

use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use carechain_core::identity::SigningKey;
use carechain_core::ids::{B64, ClaimId, RecordId};
use carechain_core::statement::*;

use crate::support::{Actor, RelayApp, Reply, TestApp, start};
use crate::world::{Scenario, grant};

/// A caller who is not a party to A's objects (in `MATRIX` column order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anon,
    Patient,
    Doctor,
    Insurer,
    Admin,
}

const EVERYONE: [Who; 5] = [
    Who::Anon,
    Who::Patient,
    Who::Doctor,
    Who::Insurer,
    Who::Admin,
];

/// What must happen to a caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// 401, 403 or 404.
    Refused,
    /// 200, without any of A's objects.
    NotListed,
    /// Not object-scoped for this caller (public, or creating its own).
    Allowed,
}

use Expect::*;

/// `expect` for callers of role `who`, every other caller refused.
const fn only(who: Who, expect: Expect) -> [Expect; 5] {
    let mut row = [Refused; 5];
    row[who as usize] = expect;
    row
}

/// A list that callers of roles `a` and `b` may read (without A's objects).
const fn listed(a: Who, b: Who) -> [Expect; 5] {
    let mut row = only(a, NotListed);
    row[b as usize] = NotListed;
    row
}

/// Only the admin.
const ADMIN: [Expect; 5] = only(Who::Admin, Allowed);
/// Only a patient, given a list without A's objects.
const PATIENTS_LIST: [Expect; 5] = only(Who::Patient, NotListed);
/// Any authenticated caller.
const SIGNED_IN: [Expect; 5] = [Refused, Allowed, Allowed, Allowed, Allowed];

/// `(method, OpenAPI path, expectation for Anon, Patient, Doctor, Insurer, Admin)`.
const MATRIX: &[(&str, &str, [Expect; 5])] = &[
    ("get", "/healthz", [Allowed; 5]),
    ("get", "/readyz", [Allowed; 5]),
    ("post", "/v1/accounts", [Allowed; 5]),
    ("post", "/v1/auth/login", [Allowed; 5]),
    ("post", "/v1/auth/refresh", [Allowed; 5]),
    ("post", "/v1/auth/challenge", [Allowed; 5]),
    ("post", "/v1/auth/patient-login", [Allowed; 5]),
    ("get", "/v1/me", SIGNED_IN),
    ("post", "/v1/patients", [Allowed; 5]),
    ("get", "/v1/patients/me/records", PATIENTS_LIST),
    ("get", "/v1/patients/me/access-log", PATIENTS_LIST),
    ("get", "/v1/patients/{id}/readers", [Refused; 5]),
    ("get", "/v1/patients/{id}/records", [Refused; 5]),
    ("get", "/v1/admin/accounts", ADMIN),
    ("post", "/v1/admin/accounts/{id}/approve", ADMIN),
    ("post", "/v1/admin/accounts/{id}/suspend", ADMIN),
    ("get", "/v1/admin/audit", ADMIN),
    ("post", "/v1/requests", only(Who::Doctor, Allowed)),
    ("get", "/v1/requests", listed(Who::Patient, Who::Doctor)),
    ("get", "/v1/requests/{id}", [Refused; 5]),
    ("get", "/v1/requests/{id}/grant-context", [Refused; 5]),
    ("post", "/v1/requests/{id}/grant", [Refused; 5]),
    ("post", "/v1/requests/{id}/deny", [Refused; 5]),
    ("post", "/v1/requests/{id}/revoke", [Refused; 5]),
    ("post", "/v1/records", [Refused; 5]),
    ("get", "/v1/records/{id}", [Refused; 5]),
    ("post", "/v1/records/{id}/read", [Refused; 5]),
    ("post", "/v1/products", only(Who::Insurer, Allowed)),
    ("get", "/v1/products", SIGNED_IN),
    ("get", "/v1/products/{id}", SIGNED_IN),
    ("post", "/v1/policies", only(Who::Patient, Allowed)),
    ("post", "/v1/policies/{id}/issue", [Refused; 5]),
    ("post", "/v1/policies/{id}/decline", [Refused; 5]),
    ("get", "/v1/policies", listed(Who::Patient, Who::Insurer)),
    ("get", "/v1/policies/{id}", [Refused; 5]),
    ("get", "/v1/policies/{id}/claim-context", [Refused; 5]),
    ("post", "/v1/claims", [Refused; 5]),
    ("get", "/v1/claims", listed(Who::Patient, Who::Insurer)),
    ("get", "/v1/claims/{id}", [Refused; 5]),
    ("post", "/v1/claims/{id}/paid", [Refused; 5]),
    // Public keys: any authenticated caller.
    ("get", "/v1/identities/{actor}", SIGNED_IN),
    // Push: each caller's own events and subscriptions only.
    ("get", "/v1/events", SIGNED_IN),
    ("post", "/v1/push/subscriptions", SIGNED_IN),
    ("delete", "/v1/push/subscriptions/{id}", [Refused; 5]),
];

fn caller<'a, S>(app: &'a TestApp<S>, s: &'a Scenario, who: Who) -> Option<&'a Actor> {
    match who {
        Who::Anon => None,
        Who::Patient => Some(&s.other_patient),
        Who::Doctor => Some(&s.other_doctor),
        Who::Insurer => Some(&s.other_insurer),
        Who::Admin => Some(&app.admin),
    }
}

/// The concrete path for A's object.
fn concrete(path: &str, s: &Scenario) -> String {
    let id = if path.starts_with("/v1/patients/") || path.starts_with("/v1/identities/") {
        s.patient.id().to_string()
    } else if path.starts_with("/v1/admin/accounts/") {
        s.doctor.account.clone()
    } else if path.starts_with("/v1/requests/") {
        s.request.to_string()
    } else if path.starts_with("/v1/records/") {
        s.record.to_string()
    } else if path.starts_with("/v1/products/") {
        s.product.to_string()
    } else if path.starts_with("/v1/policies/") {
        s.policy.to_string()
    } else {
        s.claim.to_string()
    };
    let path = path.replace("{id}", &id).replace("{actor}", &id);
    if path.ends_with("/readers") {
        format!("{path}?category=general")
    } else if path.ends_with("/claim-context") {
        format!("{path}?record={}", s.record)
    } else {
        path
    }
}

/// The action a caller would sign to act on A's object at `path`.
fn action<S: RelayApp>(app: &mut TestApp<S>, path: &str, s: &Scenario) -> Action {
    let junk = || B64(vec![1; 24]);
    match path {
        "/v1/admin/accounts/{id}/approve" => s.doctor.register(),
        "/v1/admin/accounts/{id}/suspend" => Action::SuspendIdentity(SuspendIdentity {
            actor: s.doctor.id(),
            reason: "x".into(),
        }),
        "/v1/requests" => app.read_request(&s.patient),
        "/v1/requests/{id}/grant" => grant(s.request, vec![AccessAction::Read], 1, vec![]),
        "/v1/requests/{id}/deny" => Action::Deny(Deny { request: s.request }),
        "/v1/requests/{id}/revoke" => Action::Revoke(Revoke { request: s.request }),
        "/v1/records" => Action::WriteRecord(WriteRecord {
            record: RecordId::random(&mut app.rng),
            patient: s.patient.id(),
            category: RecordCategory::General,
            nonce: junk(),
            payload: junk(),
            keys: vec![],
            code: junk(),
            code_category: junk(),
            treatment: None,
        }),
        "/v1/records/{id}/read" => Action::ReadRecord(ReadRecord { record: s.record }),
        "/v1/products" => app.product_act("n", "E11").1,
        "/v1/policies" => app.purchase_act(s.product).1,
        "/v1/policies/{id}/issue" => Action::IssuePolicy(IssuePolicy {
            policy: s.policy,
            items: vec![junk()],
        }),
        "/v1/policies/{id}/decline" => Action::DeclinePolicy(DeclinePolicy {
            policy: s.policy,
            reason: String::new(),
        }),
        "/v1/claims" => Action::FileClaim(FileClaim {
            claim: ClaimId::random(&mut app.rng),
            policy: s.policy,
            record: s.record,
            item: 0,
            proof: junk(),
        }),
        "/v1/claims/{id}/paid" => Action::MarkPaid(MarkPaid {
            claim: s.claim,
            reference: "r".into(),
        }),
        other => panic!("no action for {other}"),
    }
}

/// The ids of A's objects, none of which a non-party may see in a list.
fn a_ids(s: &Scenario) -> [String; 4] {
    [
        s.request.to_string(),
        s.record.to_string(),
        s.policy.to_string(),
        s.claim.to_string(),
    ]
}

async fn probe<S: RelayApp>(
    app: &mut TestApp<S>,
    s: &Scenario,
    method: &str,
    path: &str,
    who: Who,
) -> Reply {
    let url = concrete(path, s);
    let actor = caller(app, s, who);
    let token = actor.map(|a| a.token.clone());
    let key = actor.map(|a| SigningKey::from_bytes(a.key.to_bytes().as_slice()).unwrap());
    match method {
        "get" => {
            return app
                .send(Method::GET, &url, token.as_deref(), None, None)
                .await;
        }
        "delete" => {
            return app
                .send(Method::DELETE, &url, token.as_deref(), None, None)
                .await;
        }
        _ if path.starts_with("/v1/push/") => {
            return app.post(&url, token.as_deref(), json!({})).await;
        }
        _ => {}
    }
    let act = action(app, path, s);
    let signer = key.unwrap_or_else(|| SigningKey::generate(&mut app.rng));
    let statement = app.sign(&signer, act);
    app.post_statement(&url, token.as_deref(), &statement).await
}

#[actix_web::test]
async fn every_route_refuses_every_role_that_is_not_a_party() {
    let mut app = start().await;
    let s = app.scenario().await;
    let mut failures = Vec::new();
    let mut probes = 0;
    for (method, path, expects) in MATRIX {
        for (who, expect) in EVERYONE.iter().zip(expects) {
            if *expect == Allowed {
                continue;
            }
            let reply = probe(&mut app, &s, method, path, *who).await;
            probes += 1;
            let good = match expect {
                Refused => {
                    matches!(reply.status.as_u16(), 401 | 403 | 404)
                        && reply.content_type == "application/problem+json"
                }
                NotListed => {
                    let text = reply.body.to_string();
                    reply.status == StatusCode::OK
                        && a_ids(&s).iter().all(|id| !text.contains(id.as_str()))
                }
                Allowed => true,
            };
            if !good {
                failures.push(format!(
                    "{method} {path} as {who:?}: expected {expect:?}, got {} {}",
                    reply.status, reply.body
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix failures:\n{}",
        failures.join("\n")
    );
    assert!(probes > 100, "only {probes} probes ran");
}

#[actix_web::test]
async fn the_matrix_covers_exactly_the_openapi_routes() {
    let app = start().await;
    let doc = app
        .send(Method::GET, "/v1/openapi.json", None, None, None)
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(
        doc.body["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert(format!("{method} {path}"));
                let id = operation["operationId"].as_str().unwrap().to_owned();
                assert!(
                    operation_ids.insert(id.clone()),
                    "duplicate operationId {id}"
                );
            }
        }
    }
    let matrix: BTreeSet<String> = MATRIX.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    let missing: Vec<_> = documented.difference(&matrix).collect();
    let extra: Vec<_> = matrix.difference(&documented).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not in the matrix: {missing:?}; not in OpenAPI: {extra:?}"
    );
    let docs = app.send(Method::GET, "/docs/", None, None, None).await;
    assert_eq!(docs.status, StatusCode::OK);
}
