//! Paillier encryption and proofs (being written).
mod monty;
