//! The contract tests' world: the test kit's [`World`] on the in-memory
//! state, plus the few set-ups these tests share.
#![allow(dead_code, unused_imports)]

pub mod consent;
pub mod genesis;
pub mod insurance;
pub mod records;

pub use carechain_testkit::keys::paillier_key;
pub use carechain_testkit::statements::{access_request, fhir};
pub use carechain_testkit::world::{ALL, open};
pub use carechain_testkit::{AUD, Actor, Call, Contract, DAY, T0, decision, refused};

/// The contract on the in-memory state.
pub type World = carechain_testkit::World<carechain_testkit::MemoryDriver>;

/// Signs `statement` (any claims, e.g. a chosen `jti`, `iat` or `aud`) with `key`.
pub fn sign_claims(
    statement: &carechain_core::statement::Statement,
    key: &carechain_core::identity::SigningKey,
) -> String {
    statement.sign(key).expect("sign")
}

/// The ids of whom a new record of `category` must be wrapped for.
pub fn reader_ids(w: &mut World, patient: &Actor, category: &str) -> Vec<String> {
    let readers = w
        .query("readers", &[patient.id().as_str(), category])
        .unwrap();
    readers
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["actor"].as_str().unwrap().to_owned())
        .collect()
}

/// Checks `reader` is refused reading `record` as forbidden.
#[track_caller]
pub fn read_forbidden(
    w: &mut World,
    reader: &Actor,
    record: carechain_core::ids::RecordId,
) -> carechain_testkit::ChaincodeError {
    w.refuses_as(
        reader,
        carechain_core::statement::Action::ReadRecord(carechain_core::statement::ReadRecord {
            record,
        }),
        "forbidden",
    )
}

/// Takes the last event, checks it is `name` about `subject` between
/// `patient` and `other`, and returns its payload. Consent events
/// (`access_…`) name the request and the doctor; record events (`record_…`)
/// the record and the actor.
#[track_caller]
pub fn event_of(
    w: &mut World,
    name: &str,
    subject: &dyn std::fmt::Display,
    [patient, other]: [&Actor; 2],
) -> serde_json::Value {
    let [field, role] = if name.starts_with("record_") {
        ["record", "actor"]
    } else {
        ["request", "doctor"]
    };
    let (emitted, payload) = w.event();
    assert_eq!(emitted, name);
    assert_eq!(payload[field], subject.to_string());
    assert_eq!(payload["patient"], patient.id().as_str());
    assert_eq!(payload[role], other.id().as_str());
    payload
}
