//! The outbox producer: follows the ledger's contract events from the stored
//! cursor and turns each into outbox rows, one per recipient, with ids only.
//!
//! Delivery from the ledger is at-least-once (after a restart the stream
//! resumes at the cursor's block, which may already be partly consumed);
//! into the outbox it is exactly-once, because a `(block, tx_id, recipient)`
//! row is inserted only if absent, in the same transaction that moves the
//! cursor. Stream errors restart the stream with exponential backoff.

use std::time::Duration;

use actix_web::web;
use carechain_core::ids::ActorId;
use carechain_core::ledger::Event;
use carechain_ledger::ChaincodeEvent;
use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::db;
use crate::db::group::Durability;
use crate::push::store::{self, NewRow};
use crate::state::AppState;

/// The outbox rows for one contract event: who is told, with which ids.
/// An event this relay does not know (or cannot decode) tells no one.
pub fn rows_for(event: &ChaincodeEvent) -> Vec<NewRow> {
    let Ok(decoded) = Event::decode(&event.name, &event.payload) else {
        return Vec::new();
    };
    // (recipient, the ids it is told)
    let plan: Vec<(&ActorId, Value)> = match &decoded {
        Event::AccessRequested(e) => {
            vec![(
                &e.patient,
                json!({"request": e.request, "doctor": e.doctor}),
            )]
        }
        Event::AccessGranted(e) | Event::AccessDenied(e) | Event::AccessRevoked(e) => {
            vec![(
                &e.doctor,
                json!({"request": e.request, "patient": e.patient}),
            )]
        }
        Event::RecordWritten(e) => {
            vec![(&e.patient, json!({"record": e.record, "actor": e.actor}))]
        }
        Event::RecordRead(e) if e.actor != e.patient => {
            vec![(&e.patient, json!({"record": e.record, "actor": e.actor}))]
        }
        Event::PolicyPurchased(e) => vec![(
            &e.insurer,
            json!({"policy": e.policy, "product": e.product, "patient": e.patient}),
        )],
        Event::PolicyIssued(e) | Event::PolicyDeclined(e) => vec![(
            &e.patient,
            json!({"policy": e.policy, "product": e.product, "insurer": e.insurer}),
        )],
        Event::ClaimDecided(e) => vec![
            (
                &e.patient,
                json!({"claim": e.claim, "policy": e.policy, "insurer": e.insurer}),
            ),
            (
                &e.insurer,
                json!({"claim": e.claim, "policy": e.policy, "patient": e.patient}),
            ),
        ],
        Event::ClaimPaid(e) => vec![(
            &e.patient,
            json!({"claim": e.claim, "policy": e.policy, "insurer": e.insurer}),
        )],
        Event::RecordRead(_)
        | Event::IdentityRegistered(_)
        | Event::IdentitySuspended(_)
        | Event::ProductPublished(_) => Vec::new(),
    };
    let block = i64::try_from(event.block).unwrap_or(i64::MAX);
    plan.into_iter()
        .map(|(recipient, ids)| NewRow {
            recipient: recipient.to_string(),
            kind: event.name.clone(),
            payload: ids.to_string(),
            block,
            tx_id: event.tx_id.clone(),
        })
        .collect()
}

/// Runs the producer until the process ends.
pub async fn run(state: web::Data<AppState>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match follow(&state).await {
            Ok(()) => tracing::warn!("ledger event stream ended; restarting"),
            Err(e) => tracing::warn!(error = %e, "outbox producer failed; restarting"),
        }
        actix_web::rt::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Follows the stream from the stored cursor until it ends or fails.
async fn follow(state: &web::Data<AppState>) -> Result<(), crate::error::ApiError> {
    let cursor = db::run(&state.pool, db::outbox::cursor).await?;
    let mut stream = state
        .ledger
        .events(u64::try_from(cursor).unwrap_or(0))
        .ready_chunks(256);
    while let Some(chunk) = stream.next().await {
        let mut events = Vec::with_capacity(chunk.len());
        let mut failure = None;
        for item in chunk {
            match item {
                Ok(e) => events.push(e),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        // The chunk's rows go into the outbox in one job of the relay's
        // group commit (see `db::group`), atomically with the cursor, which
        // stays on the last block itself: more of its events may follow in
        // the next chunk. One job, not one per block, so that a failure
        // cannot leave a later block's cursor over an earlier block's rows.
        // Rebuildable: rows lost in a crash are derived again from the
        // ledger, since the cursor is lost with them.
        if let Some(last) = events.last() {
            let block = i64::try_from(last.block).unwrap_or(i64::MAX);
            let rows: Vec<NewRow> = events.iter().flat_map(rows_for).collect();
            let fresh = state
                .writes
                .run(Durability::Rebuildable, move |c| {
                    store::enqueue(c, &rows, block, db::now())
                })
                .await?;
            for (actor, id) in fresh {
                state.push.delivered(&state.pool, &actor, id);
            }
        }
        if let Some(e) = failure {
            return Err(e.into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, payload: Value) -> ChaincodeEvent {
        ChaincodeEvent {
            block: 3,
            tx_id: "t".into(),
            name: name.into(),
            payload: payload.to_string().into_bytes(),
        }
    }

    /// Who event `name` with `payload` goes to.
    fn recipients(name: &str, payload: Value) -> Vec<String> {
        rows_for(&ev(name, payload))
            .into_iter()
            .map(|r| r.recipient)
            .collect()
    }

    const P: &str = "cc1111111111111111111111111111111111111111";
    const D: &str = "cc2222222222222222222222222222222222222222";
    const I: &str = "cc3333333333333333333333333333333333333333";
    const R: &str = "00000000-0000-4000-8000-000000000001";

    #[test]
    fn recipients_and_ids_only() {
        let rows = rows_for(&ev(
            "access_requested",
            json!({"request": R, "patient": P, "doctor": D, "expires_at": null}),
        ));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].recipient, P);
        assert_eq!(
            rows[0].payload,
            json!({"request": R, "doctor": D}).to_string()
        );
        let rows = rows_for(&ev(
            "claim_decided",
            json!({"claim": R, "policy": R, "patient": P, "insurer": I, "decision": "approved", "payout": 5, "currency": "EUR"}),
        ));
        let to: Vec<_> = rows.iter().map(|r| r.recipient.as_str()).collect();
        assert_eq!(to, [P, I]);
        assert!(rows.iter().all(|r| !r.payload.contains("decision")));
        assert!(rows.iter().all(|r| !r.payload.contains("payout")));
        assert_eq!(
            recipients(
                "access_granted",
                json!({"request": R, "patient": P, "doctor": D})
            ),
            [D]
        );
        let own_read = json!({"record": R, "patient": P, "actor": P});
        assert!(recipients("record_read", own_read).is_empty());
        let doctors_read = json!({"record": R, "patient": P, "actor": D});
        assert_eq!(recipients("record_read", doctors_read), [P]);
        assert!(recipients("product_published", json!({"product": R, "insurer": I})).is_empty());
        assert!(rows_for(&ev("access_requested", json!("not an object"))).is_empty());
        assert!(rows_for(&ev("no_such_event", json!({"patient": P}))).is_empty());
    }
}
