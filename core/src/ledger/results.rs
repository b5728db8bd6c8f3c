//! What the contract answers a submitted statement or a query with, besides
//! the stored objects themselves (a published product, an issued policy and a
//! decided claim are answered with their [`objects`](super::objects)).
//!
//! Field order is part of the format: the embedded ledger stores each
//! transaction's result bytes and `verify` compares them on replay.

use serde::{Deserialize, Serialize};

use crate::ids::{ActorId, B64, RecordId, RequestId};
use crate::statement::Role;

use super::objects::{RecordState, RequestStatus, WrappedKeyState};

/// One page of a ledger list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The items, in key order.
    pub items: Vec<T>,
    /// The cursor to pass as `after` for the next page, if there may be one.
    pub next: Option<String>,
}

/// The answer to `register_identity` and `suspend_identity`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Registered {
    /// The identity.
    pub actor: ActorId,
    /// Its role.
    pub role: Role,
}

/// The answer to an access request, a grant, a denial or a revocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ConsentOutcome {
    /// The request (also the grant's id).
    pub request: RequestId,
    /// Its status after the transaction.
    pub status: RequestStatus,
}

/// The answer to `write_record`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct RecordWritten {
    /// The record.
    pub record: RecordId,
    /// When it was written (the transaction time).
    pub written_at: i64,
}

/// What a reader receives from a logged read: the record and its own wrapped key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct RecordForReader {
    /// The record.
    pub record: RecordState,
    /// The data key wrapped for this reader.
    pub key: WrappedKeyState,
}

/// A reader a doctor must wrap a new record's data key for (the `readers` query).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Reader {
    /// The reader.
    pub actor: ActorId,
    /// Its HPKE public key.
    pub hpke_key: B64,
}

/// Which transaction used a statement's nonce (the `statement` query).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct StatementUse {
    /// The transaction id.
    pub tx_id: String,
}
