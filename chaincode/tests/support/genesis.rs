//! Shared helpers of the genesis and statement tests.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::too_many_arguments,
    clippy::type_complexity
)]

use super::*;
use carechain_chaincode::memory::MemoryState;
use carechain_core::ids::RequestId;
use carechain_core::statement::*;

pub const CONFIG: &[u8] = br#"{"audience":"carechain:test"}"#;

/// A doctor's access request to `patient`, as an action.
pub fn ask(w: &mut World, patient: &Actor) -> Action {
    Action::AccessRequest(AccessRequest {
        request: RequestId::random(&mut w.rng),
        patient: patient.id(),
        actions: vec![AccessAction::Read],
        scope: Scope::All,
        purpose: PurposeOfUse::Treat,
        duration_secs: DAY,
    })
}

/// The admin's self-signed registration, as `init` expects it.
pub fn admin_token(w: &mut World) -> String {
    let key = w.admin_key();
    let registration = w.admin.registration();
    w.sign(&key, Action::RegisterIdentity(registration))
}

/// Calls `init` and asserts the refusal `code` and an unchanged state.
#[track_caller]
pub fn init_refused(w: &mut World, args: &[Vec<u8>], code: &str) {
    let before = snapshot(w);
    refused(w.invoke("init", args), code);
    assert!(snapshot(w) == before, "a refused init changed the state");
}

/// Splits a compact JWS into its three parts.
pub fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.').map(str::to_owned);
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

// ---- init ----
