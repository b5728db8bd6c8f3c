//! Record envelopes (being written).
