//! Shared helpers of the genesis and statement tests.

use super::*;
use carechain_core::statement::*;

pub const CONFIG: &[u8] = br#"{"audience":"carechain:test"}"#;

/// A doctor's access request to `patient`, as an action.
pub fn ask(w: &mut World, patient: &Actor) -> Action {
    let read = vec![AccessAction::Read];
    Action::AccessRequest(access_request(patient, read, Scope::All, DAY, &mut w.rng))
}

/// Splits a compact JWS into its three parts.
pub fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.').map(str::to_owned);
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}
