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

/// Splits a compact JWS into its three parts.
pub fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.').map(str::to_owned);
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}
