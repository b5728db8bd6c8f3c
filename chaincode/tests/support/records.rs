//! Shared set-up of the record tests.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

use super::*;
use AccessAction::{Read, Write};
use carechain_core::ids::{B64, RecordId, RequestId};
use carechain_core::statement::*;
use serde_json::Value;

pub struct Setup {
    pub w: World,
    pub patient: Actor,
    pub doctor: Actor,
    /// The doctor's read + write grant on everything, for 7 days.
    pub grant: RequestId,
}

pub fn setup() -> Setup {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let grant = w.consent(&doctor, &patient);
    Setup {
        w,
        patient,
        doctor,
        grant,
    }
}

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
