//! Durable Web Push: deliveries live in the database with their outbox row;
//! the worker retries 429/5xx with backoff (honouring `Retry-After`), drops
//! a subscription on 410, sends an accepted push once, and a restarted relay
//! resumes a pending delivery.

use std::time::{Duration, Instant};

use actix_web::web;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use serde_json::{Value, json};

use carechain_api::db;
use carechain_api::push::deliveries::{self, DeliveryRow};
use carechain_api::push::webpush::Vapid;
use carechain_api::push::{Push, PushConfig};
use carechain_api::state::AppState;
use carechain_core::statement::Role;

use crate::harness::{served, state_with, wait_rows};
use crate::support::{RelayApp, TestApp, start_with, test_config, test_relay};
use crate::webpush::{Log, Seen, check_vapid, decrypt, scripted_receiver};

const AUTH: [u8; 16] = [3u8; 16];

fn config(retry_base: Duration) -> PushConfig {
    PushConfig {
        allow: crate::webpush::loopback_allowed(),
        retry_base,
        ..PushConfig::default()
    }
}

fn subscription(endpoint: String, ua: &p256::SecretKey) -> Value {
    json!({
        "endpoint": endpoint,
        "keys": {
            "p256dh": URL_SAFE_NO_PAD.encode(ua.public_key().to_encoded_point(false).as_bytes()),
            "auth": URL_SAFE_NO_PAD.encode(AUTH),
        }
    })
}

/// What the receiver saw at `path`.
fn seen_at(log: &Log, path: &str) -> Vec<Seen> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|s| s.path == path)
        .cloned()
        .collect()
}

/// Waits (up to 20 s) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn pending(state: &web::Data<AppState>) -> Vec<DeliveryRow> {
    db::run(&state.pool, deliveries::pending).await.unwrap()
}

/// Waits (up to 10 s) until no delivery is pending.
async fn until_drained(state: &web::Data<AppState>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pending(state).await.is_empty() {
        assert!(Instant::now() < deadline, "{:?}", pending(state).await);
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Subscribes the patient holding `token` at `endpoint` (201 expected).
async fn subscribe(
    app: &mut TestApp<impl RelayApp>,
    token: &str,
    endpoint: String,
    ua: &p256::SecretKey,
) {
    let reply = app
        .post(
            "/v1/push/subscriptions",
            Some(token),
            subscription(endpoint, ua),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{reply:?}");
}

#[actix_web::test]
async fn retries_after_503_and_429_deliver_once_and_410_drops_the_subscription() {
    let vapid = Vapid::new(p256::SecretKey::random(&mut rand_core::OsRng));
    let push = Push::new(config(Duration::from_millis(50)), Some(vapid));
    let (origin, log, script) = scripted_receiver();
    script.lock().unwrap().extend([
        ("/busy".to_owned(), [(503, None), (503, None)].into()),
        ("/slow".to_owned(), [(429, Some("1"))].into()),
    ]);
    let (_, mut app) = served(push).await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let ua = p256::SecretKey::random(&mut rand_core::OsRng);
    for path in ["/busy", "/slow", "/gone"] {
        subscribe(&mut app, &patient.token, format!("{origin}{path}"), &ua).await;
    }

    app.ask(&doctor, &patient).await;
    let p = patient.id().to_string();
    let id = wait_rows(&app.state, &p, 0, 1).await[0].id;
    until("the deliveries to finish", || {
        seen_at(&log, "/busy").len() >= 3 && seen_at(&log, "/slow").len() >= 2
    })
    .await;
    until_drained(&app.state).await;
    // Nothing more arrives: each accepted push was sent once.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let busy = seen_at(&log, "/busy");
    assert_eq!(
        busy.iter().map(|s| s.status).collect::<Vec<_>>(),
        [503, 503, 201]
    );
    for s in &busy {
        check_vapid(&s.authorization, &origin);
        let plain = decrypt(&s.body, &ua, &AUTH);
        assert_eq!(
            serde_json::from_slice::<Value>(&plain).unwrap(),
            json!({ "id": id })
        );
    }
    let slow = seen_at(&log, "/slow");
    assert_eq!(
        slow.iter().map(|s| s.status).collect::<Vec<_>>(),
        [429, 201]
    );
    assert!(
        slow[1].at - slow[0].at >= Duration::from_millis(950),
        "Retry-After: 1 not honoured: retried after {:?}",
        slow[1].at - slow[0].at
    );
    // 410: tried once, then the subscription is gone.
    assert_eq!(seen_at(&log, "/gone").len(), 1);
    let subs = db::run(&app.state.pool, move |c| {
        carechain_api::push::store::subscriptions(c, &p)
    })
    .await
    .unwrap();
    let mut endpoints: Vec<String> = subs.into_iter().map(|s| s.endpoint).collect();
    endpoints.sort();
    assert_eq!(
        endpoints,
        [format!("{origin}/busy"), format!("{origin}/slow")]
    );
}

#[actix_web::test]
async fn a_failing_push_is_given_up_after_the_attempt_limit() {
    let vapid = Vapid::new(p256::SecretKey::random(&mut rand_core::OsRng));
    let mut settings = config(Duration::from_millis(20));
    settings.max_attempts = 3;
    let (origin, log, script) = scripted_receiver();
    script
        .lock()
        .unwrap()
        .insert("/down".to_owned(), [(500, None); 10].into());
    let (_, mut app) = served(Push::new(settings, Some(vapid))).await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let ua = p256::SecretKey::random(&mut rand_core::OsRng);
    subscribe(&mut app, &patient.token, format!("{origin}/down"), &ua).await;
    app.ask(&doctor, &patient).await;
    until("three attempts", || seen_at(&log, "/down").len() >= 3).await;
    until_drained(&app.state).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        seen_at(&log, "/down").len(),
        3,
        "no attempt after giving up"
    );
    // The subscription stays: a 5xx says nothing about it.
    let p = patient.id().to_string();
    let subs = db::run(&app.state.pool, move |c| {
        carechain_api::push::store::subscriptions(c, &p)
    })
    .await
    .unwrap();
    assert_eq!(subs.len(), 1);
}

#[actix_web::test]
async fn a_restarted_relay_delivers_what_was_pending() {
    let vapid = Vapid::new(p256::SecretKey::random(&mut rand_core::OsRng));
    // The first relay waits 2-4 s before a retry: it is stopped before that.
    let first = Push::new(config(Duration::from_secs(4)), Some(vapid.clone()));
    let (state, admin, dir) = state_with(first).await;
    carechain_api::push::spawn_producer(state.clone());
    let worker = carechain_api::push::spawn_worker(state.clone());
    let (origin, log, script) = scripted_receiver();
    script
        .lock()
        .unwrap()
        .insert("/phone".to_owned(), [(503, None)].into());
    let database_url = test_config(dir.path()).database_url();
    let mut app = start_with(state, admin, Some(dir)).await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let ua = p256::SecretKey::random(&mut rand_core::OsRng);
    subscribe(&mut app, &patient.token, format!("{origin}/phone"), &ua).await;
    app.ask(&doctor, &patient).await;
    let id = wait_rows(&app.state, &patient.id().to_string(), 0, 1).await[0].id;

    // The first attempt fails and is recorded; then the relay stops.
    until("the first attempt", || !seen_at(&log, "/phone").is_empty()).await;
    let state = app.state.clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    let row = loop {
        let rows = pending(&state).await;
        if rows.first().is_some_and(|r| r.attempts == 1) {
            break rows[0].clone();
        }
        assert!(Instant::now() < deadline, "{rows:?}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (row.outbox_id, row.last_status.as_deref()),
        (id, Some("503"))
    );
    worker.abort();
    let _ = worker.await;

    // Another relay process on the same database (its own ledger directory:
    // the first one's is still locked) resumes the delivery.
    let dir2 = tempfile::tempdir().unwrap();
    let second = Push::new(config(Duration::from_millis(50)), Some(vapid));
    let mut relay2 = test_relay(test_config(dir2.path()))
        .database_url(database_url)
        .push(second);
    let state2 = web::Data::new(relay2.open().unwrap());
    let _worker2 = carechain_api::push::spawn_worker(state2.clone());
    until("the resumed push", || seen_at(&log, "/phone").len() >= 2).await;
    until_drained(&state2).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let phone = seen_at(&log, "/phone");
    assert_eq!(
        phone.iter().map(|s| s.status).collect::<Vec<_>>(),
        [503, 201]
    );
    let plain = decrypt(&phone[1].body, &ua, &AUTH);
    assert_eq!(
        serde_json::from_slice::<Value>(&plain).unwrap(),
        json!({ "id": id })
    );
}
