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
use carechain_ledger::ChaincodeEvent;
use futures::StreamExt as _;
use serde_json::{Map, Value};

use crate::db;
use crate::db::group::Durability;
use crate::push::store::{self, NewRow};
use crate::state::AppState;

/// The outbox rows for one contract event: who is told, with which ids.
pub fn rows_for(event: &ChaincodeEvent) -> Vec<NewRow> {
    let Ok(Value::Object(p)) = serde_json::from_slice::<Value>(&event.payload) else {
        return Vec::new();
    };
    let field = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
    // (recipient field, id fields to copy into the payload)
    let plan: &[(&str, &[&str])] = match event.name.as_str() {
        "access_requested" => &[("patient", &["request", "doctor"])],
        "access_granted" | "access_denied" | "access_revoked" => {
            &[("doctor", &["request", "patient"])]
        }
        "record_written" => &[("patient", &["record", "actor"])],
        "record_read" if field("actor") != field("patient") => &[("patient", &["record", "actor"])],
        "policy_purchased" => &[("insurer", &["policy", "product", "patient"])],
        "policy_issued" => &[("patient", &["policy", "product", "insurer"])],
        "claim_decided" => &[
            ("patient", &["claim", "policy", "insurer"]),
            ("insurer", &["claim", "policy", "patient"]),
        ],
        "claim_paid" => &[("patient", &["claim", "policy", "insurer"])],
        _ => &[],
    };
    let block = i64::try_from(event.block).unwrap_or(i64::MAX);
    plan.iter()
        .filter_map(|(to, ids)| {
            let recipient = field(to)?;
            let mut data = Map::new();
            for id in *ids {
                if let Some(v) = p.get(*id).filter(|v| v.is_string() || v.is_number()) {
                    data.insert((*id).to_owned(), v.clone());
                }
            }
            Some(NewRow {
                recipient,
                kind: event.name.clone(),
                payload: Value::Object(data).to_string(),
                block,
                tx_id: event.tx_id.clone(),
            })
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
    use serde_json::json;

    fn ev(name: &str, payload: Value) -> ChaincodeEvent {
        ChaincodeEvent {
            block: 3,
            tx_id: "t".into(),
            name: name.into(),
            payload: payload.to_string().into_bytes(),
        }
    }

    #[test]
    fn recipients_and_ids_only() {
        let rows = rows_for(&ev(
            "access_requested",
            json!({"request": "r1", "patient": "P", "doctor": "D", "expires_at": null}),
        ));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].recipient, "P");
        assert_eq!(
            rows[0].payload,
            json!({"request": "r1", "doctor": "D"}).to_string()
        );
        let rows = rows_for(&ev(
            "claim_decided",
            json!({"claim": "c", "policy": "p", "patient": "P", "insurer": "I", "decision": {"status": "approved"}}),
        ));
        let to: Vec<_> = rows.iter().map(|r| r.recipient.as_str()).collect();
        assert_eq!(to, ["P", "I"]);
        assert!(rows.iter().all(|r| !r.payload.contains("decision")));
        assert_eq!(
            rows_for(&ev(
                "access_granted",
                json!({"request": "r", "patient": "P", "doctor": "D"})
            ))[0]
                .recipient,
            "D"
        );
        assert!(
            rows_for(&ev(
                "record_read",
                json!({"record": "x", "patient": "P", "actor": "P"})
            ))
            .is_empty()
        );
        assert!(
            rows_for(&ev(
                "product_published",
                json!({"product": "x", "insurer": "I"})
            ))
            .is_empty()
        );
        assert!(rows_for(&ev("access_requested", json!("not an object"))).is_empty());
    }
}
