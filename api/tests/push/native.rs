//! Native push to APNs and FCM played by local HTTP/2 servers that check
//! the wire format Apple and Google document: `POST /3/device/<token>` with
//! an ES256 provider token and the `apns-*` headers; the OAuth 2.0 JWT
//! bearer exchange at the service account's token URI; `POST
//! /v1/projects/<project>/messages:send` with the access token. Payloads
//! carry only the outbox id and the event kind.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use carechain_api::db;
use carechain_api::push::device_store;
use carechain_api::push::native::{Native, pem_der};
use carechain_api::push::{Push, PushConfig};
use carechain_core::statement::Role;

use crate::h2fake::{Answer, Fake, Seen};
use crate::harness::{ack, connect, next_event, served, wait_rows};

const KEY_ID: &str = "ABC123DEFG";
const TEAM_ID: &str = "DEF123GHIJ";
const TOPIC: &str = "org.carechain.app";
const PROJECT: &str = "carechain-test";
const CLIENT_EMAIL: &str = "relay@carechain-test.iam.gserviceaccount.com";
const ACCESS_TOKEN: &str = "ya29.test-access-token";
const APNS_PUB: &str = include_str!("keys/apns-test.pub.pem");
const FCM_PUB: &str = include_str!("keys/fcm-test.pub.pem");

fn apns_token(c: char) -> String {
    c.to_string().repeat(64)
}

/// 200 for sends, an access token for the token URI.
fn ok(seen: &Seen) -> Answer {
    if seen.path == "/token" {
        let body =
            json!({"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"});
        return (
            200,
            vec![("content-type", "application/json".into())],
            body.to_string(),
        );
    }
    if seen.path.starts_with("/3/device/") {
        return (
            200,
            vec![("apns-id", "00000000-0000-0000-0000-000000000001".into())],
            String::new(),
        );
    }
    (
        200,
        vec![("content-type", "application/json".into())],
        json!({"name": format!("projects/{PROJECT}/messages/1")}).to_string(),
    )
}

/// A relay whose APNs and FCM hosts and token URI are `fake`, configured
/// through the same variables an operator sets.
async fn relay_for(
    fake: &Fake,
) -> (
    std::net::SocketAddr,
    crate::support::TestApp<
        impl actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
            Error = actix_web::Error,
        >,
    >,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let account = json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "k1",
        "private_key": include_str!("keys/fcm-test.key.pem"),
        "client_email": CLIENT_EMAIL,
        "token_uri": format!("{}/token", fake.base),
    });
    let account_file = dir.path().join("service-account.json");
    std::fs::write(&account_file, account.to_string()).unwrap();
    let key_file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/push/keys/apns-test.p8");
    let base = fake.base.clone();
    let env = move |name: &str| -> Option<String> {
        match name {
            "CARECHAIN_APNS_KEY_FILE" => Some(key_file.to_owned()),
            "CARECHAIN_APNS_KEY_ID" => Some(KEY_ID.into()),
            "CARECHAIN_APNS_TEAM_ID" => Some(TEAM_ID.into()),
            "CARECHAIN_APNS_TOPIC" => Some(TOPIC.into()),
            "CARECHAIN_APNS_HOST" | "CARECHAIN_FCM_HOST" => Some(base.clone()),
            "CARECHAIN_FCM_SERVICE_ACCOUNT" => Some(account_file.display().to_string()),
            _ => None,
        }
    };
    let config = PushConfig {
        retry_base: Duration::from_millis(10),
        ..PushConfig::default()
    };
    let native = Native::from_env(env, config.ttl_secs).unwrap();
    let (addr, app) = served(Push::new(config, None).with_native(native)).await;
    (addr, app, dir)
}

fn decode(
    jwt: &str,
    key: jsonwebtoken::DecodingKey,
    alg: jsonwebtoken::Algorithm,
) -> (jsonwebtoken::Header, Value) {
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &validation).unwrap();
    (data.header, data.claims)
}

/// Checks one APNs request for outbox row `id` to `token`; returns its JWT.
fn check_apns(seen: &Seen, token: &str, id: i64) -> String {
    assert_eq!(seen.version, http::Version::HTTP_2);
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, format!("/3/device/{token}"));
    let jwt = seen
        .header("authorization")
        .strip_prefix("bearer ")
        .expect("bearer scheme")
        .to_owned();
    let key = {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        use p256::pkcs8::DecodePublicKey as _;
        let der = pem_der(APNS_PUB, "PUBLIC KEY").unwrap();
        let point = p256::PublicKey::from_public_key_der(&der)
            .unwrap()
            .to_encoded_point(false);
        jsonwebtoken::DecodingKey::from_ec_components(
            &URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            &URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        )
        .unwrap()
    };
    let (header, claims) = decode(&jwt, key, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), Some(KEY_ID));
    assert_eq!(claims["iss"], json!(TEAM_ID));
    let iat = claims["iat"].as_i64().expect("iat");
    assert!(
        (iat - db::now()).abs() < 3600,
        "iat {iat} is within the hour"
    );
    assert_eq!(
        claims.as_object().unwrap().len(),
        2,
        "only iss and iat: {claims}"
    );
    assert_eq!(seen.header("apns-topic"), TOPIC);
    assert_eq!(seen.header("apns-push-type"), "alert");
    assert_eq!(seen.header("apns-priority"), "10");
    let expiration: i64 = seen.header("apns-expiration").parse().unwrap();
    assert!(expiration > db::now());
    assert_eq!(seen.header("apns-collapse-id"), format!("carechain-{id}"));
    assert_eq!(
        seen.json(),
        json!({
            "aps": {"alert": {"title": "CareChain", "body": "A doctor asks for access to your records."}, "sound": "default"},
            "id": id,
            "kind": "access_requested",
        })
    );
    jwt
}

/// Checks the OAuth 2.0 JWT bearer exchange at the token URI.
fn check_token_exchange(seen: &Seen, token_uri: &str) {
    assert_eq!(seen.version, http::Version::HTTP_2);
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&seen.body)
        .into_owned()
        .collect();
    assert_eq!(form.len(), 2, "{form:?}");
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let key = {
        use rsa::pkcs8::DecodePublicKey as _;
        use rsa::traits::PublicKeyParts as _;
        let der = pem_der(FCM_PUB, "PUBLIC KEY").unwrap();
        let public = rsa::RsaPublicKey::from_public_key_der(&der).unwrap();
        jsonwebtoken::DecodingKey::from_rsa_components(
            &URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            &URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        )
        .unwrap()
    };
    let (header, claims) = decode(&form["assertion"], key, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(claims["iss"], json!(CLIENT_EMAIL));
    assert_eq!(
        claims["scope"],
        json!("https://www.googleapis.com/auth/firebase.messaging")
    );
    assert_eq!(claims["aud"], json!(token_uri));
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - db::now()).abs() < 3600);
    assert_eq!(claims["exp"].as_i64(), Some(iat + 3600));
}

/// Checks one FCM send for outbox row `id` to `token`.
fn check_fcm(seen: &Seen, token: &str, id: i64) {
    assert_eq!(seen.version, http::Version::HTTP_2);
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, format!("/v1/projects/{PROJECT}/messages:send"));
    assert_eq!(
        seen.header("authorization"),
        format!("Bearer {ACCESS_TOKEN}")
    );
    assert_eq!(seen.header("content-type"), "application/json");
    assert_eq!(
        seen.json(),
        json!({"message": {
            "token": token,
            "notification": {"title": "CareChain", "body": "A doctor asks for access to your records."},
            "data": {"id": id.to_string(), "kind": "access_requested"},
            "android": {"priority": "HIGH", "ttl": "86400s", "collapse_key": format!("carechain-{id}")},
        }})
    );
}

/// Waits (up to 10 s) until no native delivery is pending.
async fn settled(state: &actix_web::web::Data<carechain_api::state::AppState>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let pending = db::run(&state.pool, device_store::pending).await.unwrap();
        if pending.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still pending: {pending:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn an_offline_patient_gets_one_apns_and_one_fcm_push_and_none_while_connected() {
    let fake = Fake::start(ok).await;
    let (addr, mut app, _dir) = relay_for(&fake).await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let register = |platform: &str, token: &str| json!({"platform": platform, "token": token, "app_id": TOPIC});
    let apns = apns_token('a');
    let fcm = "fcm-token:APA91b_one";
    for body in [register("apns", &apns.to_uppercase()), register("fcm", fcm)] {
        let reply = app
            .post("/v1/push/devices", Some(&patient.token.clone()), body)
            .await;
        assert_eq!(reply.status.as_u16(), 201, "{reply:?}");
    }

    app.ask(&doctor, &patient).await;
    let p = patient.id().to_string();
    let id = wait_rows(&app.state, &p, 0, 1).await[0].id;
    settled(&app.state).await;
    let seen = fake.seen();
    assert_eq!(
        seen.len(),
        3,
        "one APNs send, one token exchange, one FCM send: {seen:?}"
    );
    let apns_sends: Vec<&Seen> = seen.iter().filter(|s| s.path.starts_with("/3/")).collect();
    assert_eq!(apns_sends.len(), 1);
    check_apns(apns_sends[0], &apns, id);
    let exchange = seen
        .iter()
        .find(|s| s.path == "/token")
        .expect("a token exchange");
    check_token_exchange(exchange, &format!("{}/token", fake.base));
    let fcm_send = seen
        .iter()
        .find(|s| s.path.contains("messages:send"))
        .expect("an FCM send");
    check_fcm(fcm_send, fcm, id);

    // With the patient's socket open the socket delivers; no native push.
    let mut ws = connect(addr, &patient.token, "device=phone").await;
    let first = next_event(&mut ws).await;
    ack(&mut ws, first["id"].as_i64().unwrap()).await;
    app.ask(&doctor, &patient).await;
    let event = next_event(&mut ws).await;
    assert!(event["id"].as_i64().unwrap() > id);
    settled(&app.state).await;
    assert_eq!(fake.seen().len(), 3, "no push while the socket is open");
}

#[actix_web::test]
async fn a_gone_token_is_removed_and_never_pushed_again() {
    let fake = Fake::start(ok).await;
    let (_addr, mut app, _dir) = relay_for(&fake).await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let apns = apns_token('b');
    let fcm = "fcm-gone";
    for (platform, token) in [("apns", apns.as_str()), ("fcm", fcm)] {
        let reply = app
            .post(
                "/v1/push/devices",
                Some(&patient.token.clone()),
                json!({"platform": platform, "token": token, "app_id": TOPIC}),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 201, "{reply:?}");
    }
    fake.script(
        &format!("/3/device/{apns}"),
        vec![(
            410,
            vec![],
            json!({"reason": "Unregistered", "timestamp": 1_700_000_000_000_i64}).to_string(),
        )],
    );
    let unregistered = json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
        "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}});
    fake.script(
        &format!("/v1/projects/{PROJECT}/messages:send"),
        vec![(404, vec![], unregistered.to_string())],
    );

    app.ask(&doctor, &patient).await;
    let p = patient.id().to_string();
    wait_rows(&app.state, &p, 0, 1).await;
    settled(&app.state).await;
    assert_eq!(fake.seen().len(), 3, "{:?}", fake.seen());
    let who = p.clone();
    let devices = db::run(&app.state.pool, move |c| device_store::devices(c, &who))
        .await
        .unwrap();
    assert!(devices.is_empty(), "both tokens removed: {devices:?}");

    app.ask(&doctor, &patient).await;
    wait_rows(&app.state, &p, 0, 2).await;
    settled(&app.state).await;
    assert_eq!(fake.seen().len(), 3, "nothing more goes to a removed token");
}

#[actix_web::test]
async fn a_429_is_retried_after_its_retry_after() {
    let fake = Fake::start(ok).await;
    let (_addr, mut app, _dir) = relay_for(&fake).await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let apns = apns_token('c');
    let reply = app
        .post(
            "/v1/push/devices",
            Some(&patient.token.clone()),
            json!({"platform": "apns", "token": apns, "app_id": TOPIC}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{reply:?}");
    let path = format!("/3/device/{apns}");
    fake.script(
        &path,
        vec![(
            429,
            vec![("retry-after", "2".into())],
            json!({"reason": "TooManyRequests"}).to_string(),
        )],
    );

    app.ask(&doctor, &patient).await;
    let p = patient.id().to_string();
    let id = wait_rows(&app.state, &p, 0, 1).await[0].id;
    let first = fake.wait_for(1).await;
    // The refusal is recorded with a next attempt no sooner than Retry-After.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let row = loop {
        let pending = db::run(&app.state.pool, device_store::pending)
            .await
            .unwrap();
        if let Some(row) = pending.into_iter().find(|r| r.attempts == 1) {
            break row;
        }
        assert!(std::time::Instant::now() < deadline, "the 429 was recorded");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(row.last_status.as_deref(), Some("429 TooManyRequests"));
    assert!(
        row.next_attempt_ms >= first[0].at_ms + 2000,
        "{row:?} vs {}",
        first[0].at_ms
    );
    settled(&app.state).await;
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "one refused send and one retry: {seen:?}");
    let (a, b) = (
        check_apns(&seen[0], &apns, id),
        check_apns(&seen[1], &apns, id),
    );
    assert_eq!(a, b, "the provider token is cached, not signed per request");
    assert!(seen[1].at_ms >= row.next_attempt_ms);
}

#[actix_web::test]
async fn device_registration_is_validated_and_owned() {
    let fake = Fake::start(ok).await;
    let (_addr, mut app, _dir) = relay_for(&fake).await;
    let patient = app.patient(0).await;
    let other = app.patient(1).await;
    let token = patient.token.clone();
    let good = apns_token('d');
    for (body, status, code) in [
        (
            json!({"platform": "apns", "token": "abc", "app_id": TOPIC}),
            400,
            None,
        ),
        (
            json!({"platform": "apns", "token": format!("{}zz", "a".repeat(62)), "app_id": TOPIC}),
            400,
            None,
        ),
        (
            json!({"platform": "webos", "token": good, "app_id": TOPIC}),
            400,
            None,
        ),
        (
            json!({"platform": "fcm", "token": "x".repeat(5000), "app_id": TOPIC}),
            400,
            None,
        ),
        (
            json!({"platform": "fcm", "token": "ok", "app_id": "bad app"}),
            400,
            None,
        ),
        (json!({"platform": "fcm", "token": "ok"}), 400, None),
        (
            json!({"platform": "apns", "token": good, "app_id": "org.someone.else"}),
            422,
            Some("push_app_refused"),
        ),
    ] {
        let reply = app
            .post("/v1/push/devices", Some(&token), body.clone())
            .await;
        match code {
            Some(code) => reply
                .assert_problem_of(actix_web::http::StatusCode::from_u16(status).unwrap(), code),
            None => reply.assert_problem(actix_web::http::StatusCode::from_u16(status).unwrap()),
        }
    }
    let anon = app
        .post(
            "/v1/push/devices",
            None,
            json!({"platform": "fcm", "token": "ok", "app_id": TOPIC}),
        )
        .await;
    assert_eq!(anon.status.as_u16(), 401);

    let reply = app
        .post(
            "/v1/push/devices",
            Some(&token),
            json!({"platform": "apns", "token": good, "app_id": TOPIC}),
        )
        .await;
    assert_eq!(
        reply.body,
        json!({"platform": "apns", "token": good, "app_id": TOPIC})
    );
    let path = format!("/v1/push/devices/{}", good.to_uppercase());
    let delete = |who: String| {
        let path = path.clone();
        let app = &app;
        async move {
            app.send(
                actix_web::http::Method::DELETE,
                &path,
                Some(&who),
                None,
                None,
            )
            .await
            .status
            .as_u16()
        }
    };
    assert_eq!(
        delete(other.token.clone()).await,
        404,
        "another account cannot remove it"
    );
    assert_eq!(delete(token.clone()).await, 204);
    assert_eq!(delete(token.clone()).await, 404);

    let doc = app.get("/v1/openapi.json", &token).await.body;
    assert!(doc["paths"]["/v1/push/devices"]["post"].is_object());
    assert!(doc["paths"]["/v1/push/devices/{token}"]["delete"].is_object());
}
