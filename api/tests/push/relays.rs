//! Two relays on one PostgreSQL database and one ledger network (the Fabric
//! test peer): a phone connected to relay A hears live, once each and in
//! order, the events of requests sent to relay B; no Web Push goes out
//! while it is connected to either; when A stops, the phone resumes on B
//! with exactly what it missed, and each event it missed while offline
//! gives exactly one Web Push.

use std::time::{Duration, Instant};

use actix_web::web;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use serde_json::{Value, json};

use carechain_api::db;
use carechain_api::push::deliveries;
use carechain_api::push::webpush::Vapid;
use carechain_api::push::{Push, PushConfig};
use carechain_api::state::AppState;
use carechain_core::statement::Role;
use carechain_fabric_testpeer::{NetworkOptions, TestNetwork};

use crate::harness::{connect, next_event, serve, try_next_event};
use crate::support::{PgDatabase, fabric_config, init_with, start_with, test_relay};
use crate::webpush::{Log, decrypt, scripted_receiver};

const AUTH: [u8; 16] = [5u8; 16];

/// Push with the VAPID key every relay shares, loopback receivers allowed.
fn push(key: &p256::SecretKey) -> Push {
    let config = PushConfig {
        allow: crate::webpush::loopback_allowed(),
        retry_base: Duration::from_millis(50),
        ..PushConfig::default()
    };
    Push::new(config, Some(Vapid::new(key.clone())))
}

/// The outbox ids of the pushes `log` received at `/phone`.
fn pushed_ids(log: &Log, ua: &p256::SecretKey) -> Vec<i64> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|s| s.path == "/phone")
        .map(|s| {
            let body: Value = serde_json::from_slice(&decrypt(&s.body, ua, &AUTH)).unwrap();
            body["id"].as_i64().unwrap()
        })
        .collect()
}

/// Waits (up to 20 s) until no Web Push delivery is pending in the shared database.
async fn until_drained(state: &web::Data<AppState>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending = db::run(&state.pool, deliveries::pending).await.unwrap();
        if pending.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries still pending: {pending:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_phone_on_one_relay_hears_live_what_requests_to_another_relay_caused() {
    let Some(database) = PgDatabase::create() else {
        return;
    };
    let network = TestNetwork::start(NetworkOptions::default()).await.unwrap();
    let vapid = p256::SecretKey::random(&mut rand_core::OsRng);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let relay_of = |dir: &tempfile::TempDir| {
        let mut config = fabric_config(&network, dir.path());
        config.database_url = Some(database.url.clone());
        test_relay(config).push(push(&vapid))
    };
    // A initialises the ledger and the database; B opens them as they are.
    let (state_a, admin) = init_with(relay_of(&dir_a)).await;
    let state_b = web::Data::new(relay_of(&dir_b).open().unwrap());
    let relay_a = serve(&state_a);
    let relay_b = serve(&state_b);
    let mut app = start_with(state_b.clone(), admin, None).await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let (origin, log, _) = scripted_receiver();
    let ua = p256::SecretKey::random(&mut rand_core::OsRng);
    let subscription = json!({
        "endpoint": format!("{origin}/phone"),
        "keys": {
            "p256dh": URL_SAFE_NO_PAD.encode(ua.public_key().to_encoded_point(false).as_bytes()),
            "auth": URL_SAFE_NO_PAD.encode(AUTH),
        }
    });
    let reply = app
        .post("/v1/push/subscriptions", Some(&patient.token), subscription)
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{reply:?}");

    // Live on A: each request goes to B, and the phone hears it before the
    // next is sent, so a wake-up that reached only B would stall the test.
    let mut ws = connect(relay_a.addr(), &patient.token, "device=phone&after=0").await;
    let mut last = 0;
    for i in 0..100 {
        let request = app.ask(&doctor, &patient).await;
        let event = next_event(&mut ws).await;
        assert_eq!(event["kind"], "access_requested", "event {i}: {event}");
        assert_eq!(event["data"]["request"], request.to_string(), "event {i}");
        let id = event["id"].as_i64().unwrap();
        assert!(id > last, "event {i}: id {id} after {last}");
        last = id;
    }
    assert_eq!(
        try_next_event(&mut ws, Duration::from_millis(300)).await,
        None
    );
    until_drained(&state_b).await;
    assert_eq!(
        pushed_ids(&log, &ua),
        Vec::<i64>::new(),
        "no push while connected"
    );

    // A stops; the phone is offline while ten more requests go to B.
    relay_a.handle().stop(false).await;
    relay_a.wait().await.unwrap();
    drop(ws);
    let mut missed = Vec::new();
    for _ in 0..10 {
        missed.push(app.ask(&doctor, &patient).await.to_string());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while pushed_ids(&log, &ua).len() < missed.len() {
        assert!(
            Instant::now() < deadline,
            "pushes: {:?}",
            pushed_ids(&log, &ua)
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    until_drained(&state_b).await;

    // Back on B from the last event heard: exactly the missed ones, in order.
    let mut ws = connect(
        relay_b.addr(),
        &patient.token,
        &format!("device=phone&after={last}"),
    )
    .await;
    let mut resumed = Vec::new();
    for request in &missed {
        let event = next_event(&mut ws).await;
        assert_eq!(&event["data"]["request"], request, "{event}");
        resumed.push(event["id"].as_i64().unwrap());
    }
    assert_eq!(
        try_next_event(&mut ws, Duration::from_millis(300)).await,
        None
    );
    assert!(resumed.windows(2).all(|w| w[0] < w[1]), "{resumed:?}");
    let mut pushed = pushed_ids(&log, &ua);
    pushed.sort_unstable();
    assert_eq!(pushed, resumed, "one push per offline event");
    relay_b.stop().await.unwrap();
}
