//! The ledger's vocabulary, shared by the contract, the relay, the client and
//! the phone: the objects the contract stores and answers with, its queries,
//! its events and its refusal codes. Each exists once, here.

mod error_code;
mod events;
mod keycache;
mod objects;
mod query;
mod results;

pub use error_code::{ErrorCode, UnknownErrorCode};
pub use events::{
    ClaimEvent, ConsentEvent, Event, EventError, IdentityEvent, PolicyEvent, ProductEvent,
    RecordEvent,
};
pub use keycache::decode as decode_verifying_key;
pub use objects::*;
pub use query::{MAX_PAGE, PageArgs, Query, QueryError, parse_scope, scope_text};
pub use results::{
    ClaimContext, ConsentOutcome, GrantContext, KeyedRecord, OwnKey, Page, Reader, RecordForReader,
    RecordWritten, Registered, StatementUse,
};
