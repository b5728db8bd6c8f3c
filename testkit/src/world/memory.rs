//! Steps only the in-memory backend offers: a fresh world at `T0`, raw calls
//! with any arguments, the state itself, the last event, and refusals that
//! must leave the state unchanged.

use carechain_chaincode::ChaincodeError;
use carechain_chaincode::memory::MemoryState;
use carechain_core::identity::SigningKey;
use carechain_core::statement::Action;
use serde_json::Value;

use super::World;
use crate::driver::{Contract, Outcome};
use crate::{Actor, MemoryDriver, T0, refused};

impl World<MemoryDriver> {
    /// A world on a fresh in-memory state at `T0`, under the current rules.
    pub fn memory() -> Self {
        World::new(MemoryDriver::new(T0))
    }

    /// A world on a fresh in-memory state at `T0`, initialised with `config`.
    pub fn memory_with_config(config: &[u8]) -> Self {
        World::with_config(MemoryDriver::new(T0), config)
    }

    /// The world state.
    pub fn state(&self) -> &MemoryState {
        &self.driver.state
    }

    /// Empties the world state (the admin keeps its keys): a ledger before `init`.
    pub fn reset_state(&mut self) {
        self.driver.state = MemoryState::new();
    }

    /// Runs transaction `function` with raw `args`.
    pub fn invoke(&mut self, function: &str, args: &[Vec<u8>]) -> Outcome {
        self.driver.invoke(function, args)
    }

    /// Runs query `function` with raw `args` (malformed ones included).
    pub fn raw_query(&mut self, function: &str, args: &[&str]) -> Outcome {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        self.driver.raw_query(function, &args)
    }

    /// Every state entry, in key order.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        self.driver.snapshot()
    }

    /// The event emitted by the last successful transaction: name and payload.
    #[track_caller]
    pub fn event(&self) -> (String, Value) {
        self.driver.last_event.clone().expect("an event")
    }

    /// Submits `token`, asserts the refusal `code` and that the state did not change.
    #[track_caller]
    pub fn refuses_token(&mut self, token: &str, code: &str) -> ChaincodeError {
        let before = self.snapshot();
        let err = refused(self.submit_token(token), code);
        assert!(
            self.snapshot() == before,
            "a refused transaction changed the state"
        );
        err
    }

    /// Signs `act` with `key`, submits it, asserts the refusal `code` and an unchanged state.
    #[track_caller]
    pub fn refuses_signed(&mut self, key: &SigningKey, act: Action, code: &str) -> ChaincodeError {
        let token = self.sign(key, act);
        self.refuses_token(&token, code)
    }

    /// As [`World::refuses_signed`], signed by `actor`.
    #[track_caller]
    pub fn refuses_as(&mut self, actor: &Actor, act: Action, code: &str) -> ChaincodeError {
        self.refuses_signed(&actor.key, act, code)
    }

    /// As [`World::refuses_signed`], signed by the admin.
    #[track_caller]
    pub fn refuses_admin(&mut self, act: Action, code: &str) -> ChaincodeError {
        let key = self.admin_key();
        self.refuses_signed(&key, act, code)
    }

    /// Calls `init` with raw `args`, asserts the refusal `code` and an unchanged state.
    #[track_caller]
    pub fn init_refused(&mut self, args: &[Vec<u8>], code: &str) -> ChaincodeError {
        let before = self.snapshot();
        let err = refused(self.invoke("init", args), code);
        assert!(
            self.snapshot() == before,
            "a refused init changed the state"
        );
        err
    }
}
