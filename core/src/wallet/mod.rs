//! The patient wallet (being written).
