//! Shared set-up of the claim and insurance tests.

use super::*;
use carechain_core::ids::PolicyId;
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
    setup_under(None)
}

/// As [`setup`], on a ledger initialised under storage `rules` (`None`: the current ones).
pub fn setup_under(rules: Option<u32>) -> (World, Actor, Actor, Actor) {
    let mut w = match rules {
        None => World::memory(),
        Some(rules) => World::memory_with_config(&carechain_testkit::config(Some(rules))),
    };
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let insurer = w.registered(Role::Insurer);
    w.consent(&doctor, &patient);
    (w, patient, doctor, insurer)
}

/// As [`setup`], with a policy the patient bought of a product covering
/// `items`, a minute old.
pub fn insured(items: &[(&str, u64)]) -> (World, Actor, Actor, Actor, PolicyId) {
    let (mut w, patient, doctor, insurer) = setup();
    let product = w.product(&insurer, items);
    let policy = w.policy(&insurer, &patient, product);
    w.advance(60);
    (w, patient, doctor, insurer, policy)
}
