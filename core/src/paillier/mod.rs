//! Paillier encryption and proofs (being written).
