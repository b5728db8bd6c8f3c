//! Shared set-up of the claim and insurance tests.

use super::*;
use carechain_core::statement::Role;

/// A world with a patient whose records a doctor may write, and an insurer.
pub struct Setup {
    pub w: World,
    pub patient: Actor,
    pub doctor: Actor,
    pub insurer: Actor,
}

/// As [`setup`], held together.
pub fn cast() -> Setup {
    let (w, patient, doctor, insurer) = setup();
    Setup {
        w,
        patient,
        doctor,
        insurer,
    }
}

/// The world, the patient, the doctor with consent, and an insurer.
pub fn setup() -> (World, Actor, Actor, Actor) {
    let mut w = World::memory();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let insurer = w.registered(Role::Insurer);
    w.consent(&doctor, &patient);
    (w, patient, doctor, insurer)
}
