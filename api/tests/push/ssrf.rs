//! The SSRF policy of Web Push endpoints: `https` on public addresses only,
//! checked at subscription (422) and again at send (the subscription is
//! removed and nothing is sent), with an allow-list for hosts the operator
//! trusts.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use serde_json::{Value, json};

use carechain_api::db;
use carechain_api::push::endpoint::AllowList;
use carechain_api::push::store::{self, SubscriptionRow};
use carechain_api::push::webpush::Vapid;
use carechain_api::push::{Push, PushConfig, deliveries};
use carechain_core::statement::Role;

use crate::harness::{served, wait_rows};
use crate::support::{RelayApp, Reply, TestApp};
use crate::webpush::{loopback_allowed, scripted_receiver};

fn body(endpoint: &str) -> Value {
    let ua = p256::SecretKey::random(&mut rand_core::OsRng);
    json!({
        "endpoint": endpoint,
        "keys": {
            "p256dh": URL_SAFE_NO_PAD.encode(ua.public_key().to_encoded_point(false).as_bytes()),
            "auth": URL_SAFE_NO_PAD.encode([5u8; 16]),
        }
    })
}

fn push(allow: AllowList) -> Push {
    let vapid = Vapid::new(p256::SecretKey::random(&mut rand_core::OsRng));
    Push::new(
        PushConfig {
            allow,
            ..PushConfig::default()
        },
        Some(vapid),
    )
}

/// The patient holding `token` subscribes at `endpoint`.
async fn subscribe(app: &mut TestApp<impl RelayApp>, token: &str, endpoint: &str) -> Reply {
    app.post("/v1/push/subscriptions", Some(token), body(endpoint))
        .await
}

#[actix_web::test]
async fn non_public_endpoints_are_refused_at_subscription() {
    let (origin, log, _) = scripted_receiver();
    let port = origin.rsplit(':').next().unwrap().to_owned();
    let (_, mut app) = served(push(AllowList::default())).await;
    let patient = app.patient(0).await;
    for endpoint in [
        format!("https://localhost:{port}/x"),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[::1]/x".to_owned(),
        "https://[::ffff:127.0.0.1]/x".to_owned(),
        "https://10.0.0.1/x".to_owned(),
        "https://[fe80::1]/x".to_owned(),
        format!("http://127.0.0.1:{port}/x"),
        "http://8.8.8.8/x".to_owned(),
    ] {
        let reply = subscribe(&mut app, &patient.token, &endpoint).await;
        assert_eq!(reply.status.as_u16(), 422, "{endpoint}: {reply:?}");
        assert_eq!(
            reply.body["type"], "https://carechain.dev/problems/push_endpoint_refused",
            "{endpoint}"
        );
        assert_eq!(reply.content_type, "application/problem+json");
    }
    let p = patient.id().to_string();
    let subs = db::run(&app.state.pool, move |c| store::subscriptions(c, &p))
        .await
        .unwrap();
    assert!(subs.is_empty(), "{subs:?}");
    assert!(log.lock().unwrap().is_empty(), "the relay connected");
}

#[actix_web::test]
async fn the_allow_list_admits_only_what_it_names() {
    let (origin, _, _) = scripted_receiver();
    let port = origin.rsplit(':').next().unwrap().to_owned();
    let (_, mut app) = served(push(loopback_allowed())).await;
    let patient = app.patient(0).await;
    for (endpoint, status) in [
        (format!("http://127.0.0.1:{port}/ok"), 201),
        (format!("http://[::1]:{port}/x"), 422),
        ("https://169.254.169.254/x".to_owned(), 422),
    ] {
        let reply = subscribe(&mut app, &patient.token, &endpoint).await;
        assert_eq!(reply.status.as_u16(), status, "{endpoint}: {reply:?}");
    }
}

#[actix_web::test]
async fn an_endpoint_refused_at_send_gets_nothing_and_is_removed() {
    // A subscription stored while its name resolved elsewhere (or under an
    // earlier allow-list) now resolves to loopback: `localhost`.
    let (origin, log, _) = scripted_receiver();
    let port = origin.rsplit(':').next().unwrap().to_owned();
    let (_, mut app) = served(push(AllowList::default())).await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let ua = p256::SecretKey::random(&mut rand_core::OsRng);
    for (id, endpoint) in [
        ("s-localhost", format!("http://localhost:{port}/named")),
        ("s-v6", format!("https://[::1]:{port}/v6")),
        ("s-metadata", "https://169.254.169.254/latest".to_owned()),
    ] {
        let row = SubscriptionRow {
            id: id.to_owned(),
            account_id: patient.account.clone(),
            actor_id: patient.id().to_string(),
            endpoint,
            p256dh: URL_SAFE_NO_PAD.encode(ua.public_key().to_encoded_point(false).as_bytes()),
            auth: URL_SAFE_NO_PAD.encode([5u8; 16]),
            created_at: db::now(),
        };
        db::run(&app.state.pool, move |c| store::subscribe(c, &row))
            .await
            .unwrap();
    }
    app.ask(&doctor, &patient).await;
    let p = patient.id().to_string();
    wait_rows(&app.state, &p, 0, 1).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pending = db::run(&app.state.pool, deliveries::pending).await.unwrap();
        let q = p.clone();
        let subs = db::run(&app.state.pool, move |c| store::subscriptions(c, &q))
            .await
            .unwrap();
        if pending.is_empty() && subs.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "{pending:?} {subs:?}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(log.lock().unwrap().is_empty(), "the relay connected");
}
