//! Shared set-up of the claim and insurance tests.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

use super::*;
use carechain_core::ids::{B64, ClaimId, PolicyId, RecordId};
use carechain_core::statement::*;

/// A world with a patient whose records a doctor may write, and an insurer.
pub struct Setup {
    pub w: World,
    pub patient: Actor,
    pub doctor: Actor,
    pub insurer: Actor,
}

pub fn setup() -> Setup {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let insurer = w.registered(Role::Insurer);
    w.consent(&doctor, &patient);
    Setup {
        w,
        patient,
        doctor,
        insurer,
    }
}
