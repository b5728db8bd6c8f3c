//! What the contract answers a submitted statement or a query with, besides
//! the stored objects themselves (a published product, an issued policy and a
//! decided claim are answered with their [`objects`](super::objects)).
//!
//! Field order is part of the format: the embedded ledger stores each
//! transaction's result bytes and `verify` compares them on replay.

use serde::{Deserialize, Serialize};

use crate::ids::{ActorId, B64, RecordId, RequestId};
use crate::statement::{RecordCategory, Role};

use super::objects::{
    AccessRequestState, PolicyState, ProductState, RecordState, RequestStatus, WrappedKeyState,
};

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

/// A record with the data key wrapped for one reader (the
/// `records_with_keys` query): a patient's list, readable without a second call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct KeyedRecord {
    /// The record, its fields inline.
    #[serde(flatten)]
    pub record: RecordState,
    /// Its data key wrapped for the reader; `None` if it holds none.
    pub key: Option<WrappedKeyState>,
}

/// One record's data key as wrapped for its patient (the `own_keys` query).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct OwnKey {
    /// The record.
    pub record: RecordId,
    /// Its category.
    pub category: RecordCategory,
    /// Its data key wrapped for the patient.
    pub key: WrappedKeyState,
}

/// Everything a phone needs to answer an access request with a grant, in
/// one answer: the request, the grantee's key and the patient's own data
/// keys of every record in the scope asked about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct GrantContext {
    /// The request.
    pub request: AccessRequestState,
    /// The doctor to re-wrap the keys for.
    pub grantee: Reader,
    /// The patient's own wrapped keys of the records in scope.
    pub keys: Vec<OwnKey>,
}

/// Everything a phone needs to prove a claim, in one answer: the policy, its
/// product, and the record with the patient's own data key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ClaimContext {
    /// The policy.
    pub policy: PolicyState,
    /// Its product (the covered items).
    pub product: ProductState,
    /// The record claimed for.
    pub record: RecordState,
    /// Its data key wrapped for the patient.
    pub key: WrappedKeyState,
}
