//! `/v1/events`: live delivery, resume after the last ack, acks that
//! persist, several sockets per actor, authentication.

use std::time::Duration;

use carechain_api::db;
use carechain_api::push::{Push, store};
use carechain_core::statement::Role;

use crate::harness::{
    ack, connect, next_event, serve, served, state_with, try_next_event, wait_rows,
};

#[actix_web::test]
async fn a_request_reaches_every_open_socket_of_the_patient() {
    let (addr, mut app) = served(Push::default()).await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let mut phone = connect(addr, &patient.token, "device=phone").await;
    let mut tablet = connect(addr, &patient.token, "device=tablet").await;
    let mut stranger = connect(addr, &doctor.token, "").await;
    let request = app.ask(&doctor, &patient).await;
    for ws in [&mut phone, &mut tablet] {
        let event = next_event(ws).await;
        assert_eq!(event["kind"], "access_requested");
        assert_eq!(
            event["data"]["request"].as_str(),
            Some(request.to_string().as_str())
        );
        assert_eq!(
            event["data"]["doctor"].as_str(),
            Some(doctor.id().to_string().as_str())
        );
        assert!(event["id"].as_i64().unwrap() > 0);
    }
    assert!(
        try_next_event(&mut stranger, Duration::from_millis(300))
            .await
            .is_none()
    );
}

#[actix_web::test]
async fn an_offline_patient_gets_exactly_the_missed_events_in_order() {
    let (addr, mut app) = served(Push::default()).await;
    let doctor = app.approved(Role::Doctor).await;
    let patient = app.patient(0).await;
    let p = patient.id().to_string();

    let mut ws = connect(addr, &patient.token, "device=phone").await;
    app.ask(&doctor, &patient).await;
    let first = next_event(&mut ws).await["id"].as_i64().unwrap();
    ack(&mut ws, first).await;
    ws.close(None).await.unwrap();
    drop(ws);

    let mut missed = Vec::new();
    for _ in 0..3 {
        missed.push(app.ask(&doctor, &patient).await.to_string());
    }
    assert_eq!(wait_rows(&app.state, &p, first, 3).await.len(), 3);

    // With the last acknowledged id: exactly the three, in order.
    let mut ws = connect(addr, &patient.token, &format!("device=phone&after={first}")).await;
    let mut got = Vec::new();
    let mut last = first;
    for _ in 0..3 {
        let event = next_event(&mut ws).await;
        assert!(event["id"].as_i64().unwrap() > last);
        last = event["id"].as_i64().unwrap();
        got.push(event["data"]["request"].as_str().unwrap().to_owned());
    }
    assert_eq!(got, missed);
    assert!(
        try_next_event(&mut ws, Duration::from_millis(300))
            .await
            .is_none()
    );
    // The relay confirms an ack only once it is stored: right after the
    // confirmation the cursor is on disk, and the socket may drop at once.
    ack(&mut ws, last).await;
    drop(ws);
    let acked = db::run(&app.state.pool, {
        let p = p.clone();
        move |c| store::acked(c, &p, "phone")
    })
    .await
    .unwrap();
    assert_eq!(acked, last);
    // Without `after`, the device resumes after its stored cursor.
    let mut ws = connect(addr, &patient.token, "device=phone").await;
    assert!(
        try_next_event(&mut ws, Duration::from_millis(300))
            .await
            .is_none()
    );
    // Another device without acks gets everything.
    let mut other = connect(addr, &patient.token, "device=laptop").await;
    for _ in 0..4 {
        next_event(&mut other).await;
    }
}

#[actix_web::test]
async fn the_socket_needs_a_valid_token() {
    let (state, _admin, _dir) = state_with(Push::default()).await;
    let addr = serve(&state).addr();
    for url in [
        format!("ws://{addr}/v1/events"),
        format!("ws://{addr}/v1/events?access_token=nope"),
        format!("ws://{addr}/v1/events?access_token=x&after=-1"),
    ] {
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                assert!(res.status().is_client_error());
            }
            Err(other) => panic!("unexpected {other}"),
            Ok(_) => panic!("an unauthenticated socket was accepted"),
        }
    }
}

#[actix_web::test]
async fn acks_are_stored_while_other_writers_commit() {
    // Acks of two devices race each other and another writer on the same
    // SQLite database; every ack must be stored (none refused with
    // "database is locked"), and a cursor never moves back.
    let (state, _admin, _dir) = state_with(Push::default()).await;
    let pool = state.pool.clone();
    let writer = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let mut conn = pool.get().unwrap();
            for block in 0..400 {
                db::outbox::set_cursor(&mut conn, block).unwrap();
            }
        })
    };
    let ackers: Vec<_> = ["phone", "tablet"]
        .into_iter()
        .map(|device| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                for id in 1..=200 {
                    store::ack(&mut conn, "patient-1", device, id, id).unwrap();
                }
                store::ack(&mut conn, "patient-1", device, 50, 201).unwrap();
            })
        })
        .collect();
    writer.join().unwrap();
    for acker in ackers {
        acker.join().unwrap();
    }
    let mut conn = pool.get().unwrap();
    for device in ["phone", "tablet"] {
        assert_eq!(store::acked(&mut conn, "patient-1", device).unwrap(), 200);
    }
}

#[actix_web::test]
async fn a_write_transaction_that_reads_first_waits_for_the_lock() {
    // `db::write` takes SQLite's write lock with its first statement, so a
    // transaction that reads before it writes waits for a concurrent writer
    // instead of failing with "database is locked" (a stale read snapshot
    // cannot be upgraded). With plain deferred transactions this fails.
    let (state, _admin, _dir) = state_with(Push::default()).await;
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let pool = state.pool.clone();
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                for _ in 0..150 {
                    db::write(&mut conn, |c| {
                        let next = db::outbox::cursor(c)?;
                        db::outbox::set_cursor(c, next + 1)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    // Every increment read the latest value: none was lost.
    let mut conn = state.pool.get().unwrap();
    assert_eq!(db::outbox::cursor(&mut conn).unwrap(), 450);
}
