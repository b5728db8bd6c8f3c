//! Web Push to a push service played by a localhost receiver, which checks
//! the VAPID header and decrypts the RFC 8291 payload on its own (the user
//! agent's side, written here from the RFC, not with the relay's code).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aes_gcm::aead::{Aead as _, KeyInit as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use serde_json::{Value, json};
use sha2::Sha256;

use carechain_api::db;
use carechain_api::push::endpoint::AllowList;
use carechain_api::push::webpush::Vapid;
use carechain_api::push::{Push, PushConfig};
use carechain_core::statement::Role;

use crate::harness::{served, wait_rows};

/// What the receiver saw: path, headers of interest, body, and its answer.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub authorization: String,
    pub encoding: String,
    pub ttl: String,
    pub body: Vec<u8>,
    pub status: u16,
    pub at: std::time::Instant,
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// Scripted answers per path: each request takes the next `(status,
/// Retry-After)`; when none is left it gets 201 (410 under `/gone`).
pub type Script = Arc<Mutex<HashMap<String, VecDeque<(u16, Option<&'static str>)>>>>;

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    log: web::Data<Log>,
    script: web::Data<Script>,
) -> HttpResponse {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let scripted = script
        .lock()
        .unwrap()
        .get_mut(req.path())
        .and_then(VecDeque::pop_front);
    let (status, retry_after) = match scripted {
        Some(answer) => answer,
        None if req.path().ends_with("/gone") => (410, None),
        None => (201, None),
    };
    log.lock().unwrap().push(Seen {
        path: req.path().to_owned(),
        authorization: header("authorization"),
        encoding: header("content-encoding"),
        ttl: header("ttl"),
        body: body.to_vec(),
        status,
        at: std::time::Instant::now(),
    });
    let mut res = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(wait) = retry_after {
        res.insert_header(("Retry-After", wait));
    }
    res.finish()
}

fn receiver() -> (String, Log) {
    let (origin, log, _) = scripted_receiver();
    (origin, log)
}

/// A receiver on a loopback port: its origin, what it saw, and its script.
pub fn scripted_receiver() -> (String, Log, Script) {
    let log: Log = Arc::default();
    let script: Script = Arc::default();
    let data = web::Data::new(log.clone());
    let answers = web::Data::new(script.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(answers.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let origin = format!("http://{}", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    (origin, log, script)
}

/// The allow-list that lets the relay push to the loopback receivers of
/// these tests (the relay refuses non-public endpoints otherwise).
pub fn loopback_allowed() -> AllowList {
    AllowList::parse_csv("127.0.0.0/8").unwrap()
}

/// Checks `vapid t=<jwt>, k=<key>`: ES256 under k, aud, exp ≤ 24 h, mailto sub.
pub fn check_vapid(header: &str, origin: &str) {
    let rest = header.strip_prefix("vapid ").expect("vapid scheme");
    let mut t = None;
    let mut k = None;
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=').unwrap();
        match name {
            "t" => t = Some(value.to_owned()),
            "k" => k = Some(value.to_owned()),
            _ => {}
        }
    }
    let k = URL_SAFE_NO_PAD.decode(k.unwrap()).unwrap();
    assert_eq!(k.len(), 65);
    let key = jsonwebtoken::DecodingKey::from_ec_components(
        &URL_SAFE_NO_PAD.encode(&k[1..33]),
        &URL_SAFE_NO_PAD.encode(&k[33..65]),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[origin]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(&t.unwrap(), &key, &validation)
        .unwrap()
        .claims;
    let exp = claims["exp"].as_i64().unwrap();
    assert!(exp > db::now() && exp <= db::now() + 86_400);
    assert!(claims["sub"].as_str().unwrap().starts_with("mailto:"));
}

/// The user agent's side of RFC 8291 / RFC 8188 (one record).
pub fn decrypt(body: &[u8], ua: &p256::SecretKey, auth: &[u8]) -> Vec<u8> {
    let salt = &body[..16];
    let rs = u32::from_be_bytes(body[16..20].try_into().unwrap());
    assert_eq!(rs, 4096);
    let idlen = body[20] as usize;
    assert_eq!(idlen, 65);
    let as_public = p256::PublicKey::from_sec1_bytes(&body[21..21 + idlen]).unwrap();
    let ciphertext = &body[21 + idlen..];
    let ecdh = p256::ecdh::diffie_hellman(ua.to_nonzero_scalar(), as_public.as_affine());
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(ua.public_key().to_encoded_point(false).as_bytes());
    info.extend_from_slice(&body[21..21 + idlen]);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), ecdh.raw_secret_bytes())
        .expand(&info, &mut ikm)
        .unwrap();
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .unwrap();
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .unwrap();
    let mut plain = aes_gcm::Aes128Gcm::new_from_slice(&cek)
        .unwrap()
        .decrypt(aes_gcm::Nonce::from_slice(&nonce), ciphertext)
        .unwrap();
    while plain.last() == Some(&0) {
        plain.pop();
    }
    assert_eq!(plain.pop(), Some(2), "last-record delimiter");
    plain
}

#[actix_web::test]
async fn an_offline_patient_gets_a_web_push_with_only_the_event_id() {
    let config = PushConfig {
        allow: loopback_allowed(),
        ..PushConfig::default()
    };
    let vapid = Vapid::new(p256::SecretKey::random(&mut rand_core::OsRng));
    let (origin, log) = receiver();
    let (_, mut app) = served(Push::new(config, Some(vapid))).await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;

    let ua = p256::SecretKey::random(&mut rand_core::OsRng);
    let auth = [9u8; 16];
    let subscribe = |endpoint: String| {
        json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(ua.public_key().to_encoded_point(false).as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(auth),
            }
        })
    };
    let reply = app
        .post(
            "/v1/push/subscriptions",
            Some(&patient.token.clone()),
            subscribe(format!("{origin}/push/1")),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{reply:?}");
    let gone = app
        .post(
            "/v1/push/subscriptions",
            Some(&patient.token.clone()),
            subscribe(format!("{origin}/push/gone")),
        )
        .await;
    assert_eq!(gone.status.as_u16(), 201, "{gone:?}");
    // Validation: not https, bad point, bad auth, no token.
    for bad in [
        json!({"endpoint": "http://push.example/x", "keys": {"p256dh": URL_SAFE_NO_PAD.encode([4u8; 65]), "auth": URL_SAFE_NO_PAD.encode(auth)}}),
        json!({"endpoint": format!("{origin}/x"), "keys": {"p256dh": URL_SAFE_NO_PAD.encode([4u8; 65]), "auth": URL_SAFE_NO_PAD.encode(auth)}}),
        json!({"endpoint": format!("{origin}/x"), "keys": {"p256dh": URL_SAFE_NO_PAD.encode(ua.public_key().to_encoded_point(false).as_bytes()), "auth": "AAAA"}}),
    ] {
        let reply = app
            .post("/v1/push/subscriptions", Some(&patient.token.clone()), bad)
            .await;
        assert_eq!(reply.status.as_u16(), 400, "{reply:?}");
    }
    let anon = app
        .post(
            "/v1/push/subscriptions",
            None,
            subscribe(format!("{origin}/push/2")),
        )
        .await;
    assert_eq!(anon.status.as_u16(), 401);

    app.ask(&doctor, &patient).await;
    let p = patient.id().to_string();
    let id = wait_rows(&app.state, &p, 0, 1).await[0].id;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while log.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = log.lock().unwrap().clone();
    let push = seen.iter().find(|s| s.path == "/push/1").expect("a push");
    assert_eq!(push.encoding, "aes128gcm");
    assert!(push.ttl.parse::<u32>().unwrap() > 0);
    check_vapid(&push.authorization, &origin);
    let plain = decrypt(&push.body, &ua, &auth);
    assert_eq!(
        serde_json::from_slice::<Value>(&plain).unwrap(),
        json!({ "id": id })
    );

    // 410 removed the gone subscription; the other one can be deleted once.
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    let subs = db::run(&app.state.pool, move |c| {
        carechain_api::push::store::subscriptions(c, &p)
    })
    .await
    .unwrap();
    assert_eq!(subs.len(), 1);
    let path = format!(
        "/v1/push/subscriptions/{}",
        reply.body["id"].as_str().unwrap()
    );
    // Deleted once; the second delete finds nothing.
    for expected in [204, 404] {
        let del = app
            .send(
                actix_web::http::Method::DELETE,
                &path,
                Some(&patient.token),
                None,
                None,
            )
            .await;
        assert_eq!(del.status.as_u16(), expected);
    }
}
