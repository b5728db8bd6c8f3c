//! The [`Stub`] a transaction runs against on a Fabric peer: every state call
//! becomes a chaincode message to the peer (`GET_STATE`, `PUT_STATE`,
//! `DEL_STATE`, `GET_STATE_BY_RANGE` with `QUERY_STATE_NEXT`/`CLOSE` paging,
//! `GET_HISTORY_FOR_KEY`) answered by `RESPONSE` or `ERROR`, as in the Go shim.
//! A range iterator asks for the next batch only while the contract wants
//! more rows and closes early; a paginated range sends `QueryMetadata` (page
//! size, bookmark) and reads the bookmark from `QueryResponse.metadata`
//! (`QueryResponseMetadata`), as `GetStateByRangeWithPagination` does.
//!
//! Two Fabric facts are bridged here so the contract sees the semantics of
//! [`crate::memory`]:
//!
//! - Fabric treats a write of an empty value as a delete (`KVWrite.is_delete`
//!   is `len(value) == 0`), but the contract's index entries are empty values.
//!   An empty value is therefore stored as [`EMPTY_VALUE`] (one NUL byte, which
//!   no JSON value or transaction id can be) and read back as empty.
//! - Fabric returns a key's history newest first; the stub returns it oldest first.

use std::sync::mpsc;

use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::chaincode_message::Type;
use carechain_fabric_protos::protos::{
    ChaincodeEvent, ChaincodeMessage, DelState, GetHistoryForKey, GetState, GetStateByRange,
    PutState, QueryMetadata, QueryResponse, QueryResponseMetadata, QueryStateClose, QueryStateNext,
};
use carechain_fabric_protos::queryresult::{KeyModification as FabricModification, Kv};

use super::session::Outbox;
use crate::stub::{KeyModification, RangePage, Stub, StubError, Timestamp, check_key};

/// How an empty value is stored on Fabric, where an empty write is a delete.
pub const EMPTY_VALUE: &[u8] = &[0];

/// The value the contract wrote, as stored on Fabric.
pub(crate) fn to_fabric(value: Vec<u8>) -> Vec<u8> {
    if value.is_empty() {
        EMPTY_VALUE.to_vec()
    } else {
        value
    }
}

/// A stored Fabric value as the contract wrote it.
pub(crate) fn from_fabric(value: Vec<u8>) -> Vec<u8> {
    if value == EMPTY_VALUE {
        Vec::new()
    } else {
        value
    }
}

/// A `GET_STATE_BY_RANGE` request; `metadata` is an encoded `QueryMetadata`
/// (page size and bookmark) for a paginated query, empty for an iterator.
fn range_request(start: &str, end: &str, metadata: Vec<u8>) -> Vec<u8> {
    // As the Go shim: an empty start key means "from the first simple key".
    let start_key = if start.is_empty() { "\u{1}" } else { start };
    GetStateByRange {
        start_key: start_key.to_owned(),
        end_key: end.to_owned(),
        collection: String::new(),
        metadata,
    }
    .encode_to_vec()
}

/// One transaction's conversation with the peer.
pub(crate) struct PeerStub {
    pub(crate) channel_id: String,
    pub(crate) tx_id: String,
    pub(crate) timestamp: Timestamp,
    pub(crate) out: Outbox,
    pub(crate) replies: mpsc::Receiver<ChaincodeMessage>,
    pub(crate) event: Option<ChaincodeEvent>,
    /// The first failure of the peer; it fails the transaction even if the
    /// contract swallowed the `StubError`.
    pub(crate) failure: Option<StubError>,
}

impl PeerStub {
    /// Sends one request and waits for the peer's answer to this transaction.
    fn call(&mut self, kind: Type, payload: Vec<u8>) -> Result<Vec<u8>, StubError> {
        let result = self.exchange(kind, payload);
        if let Err(e) = &result {
            self.failure.get_or_insert_with(|| e.clone());
        }
        result
    }

    fn exchange(&mut self, kind: Type, payload: Vec<u8>) -> Result<Vec<u8>, StubError> {
        let request = ChaincodeMessage {
            r#type: kind as i32,
            payload,
            txid: self.tx_id.clone(),
            channel_id: self.channel_id.clone(),
            ..Default::default()
        };
        if self.out.send(Ok(request)).is_err() {
            return Err(StubError("the peer connection is closed".into()));
        }
        let reply = self
            .replies
            .recv()
            .map_err(|_| StubError("the peer connection closed before answering".into()))?;
        match Type::try_from(reply.r#type) {
            Ok(Type::Response) => Ok(reply.payload),
            Ok(Type::Error) => Err(StubError(format!(
                "the peer refused {}: {}",
                kind.as_str_name(),
                String::from_utf8_lossy(&reply.payload)
            ))),
            _ => Err(StubError(format!(
                "expected RESPONSE or ERROR to {}, found message type {}",
                kind.as_str_name(),
                reply.r#type
            ))),
        }
    }

    /// Every row of a paged query: the first page, `QUERY_STATE_NEXT` while
    /// the peer has more, then `QUERY_STATE_CLOSE`.
    fn drain(&mut self, kind: Type, payload: Vec<u8>) -> Result<Vec<Vec<u8>>, StubError> {
        let mut page = self.query_page(kind, payload)?;
        let mut rows: Vec<Vec<u8>> = Vec::new();
        loop {
            rows.extend(page.results.into_iter().map(|r| r.result_bytes));
            if !page.has_more {
                break;
            }
            page = self.next_page(&page.id)?;
        }
        self.close_query(page.id)?;
        Ok(rows)
    }

    /// The next page of the open query `id` (`QUERY_STATE_NEXT`).
    fn next_page(&mut self, id: &str) -> Result<QueryResponse, StubError> {
        let next = QueryStateNext { id: id.to_owned() }.encode_to_vec();
        self.query_page(Type::QueryStateNext, next)
    }

    /// Closes the open query `id` on the peer (`QUERY_STATE_CLOSE`).
    fn close_query(&mut self, id: String) -> Result<(), StubError> {
        let close = QueryStateClose { id }.encode_to_vec();
        self.call(Type::QueryStateClose, close)?;
        Ok(())
    }

    fn query_page(&mut self, kind: Type, payload: Vec<u8>) -> Result<QueryResponse, StubError> {
        let bytes = self.call(kind, payload)?;
        QueryResponse::decode(bytes.as_slice()).map_err(|e| {
            self.fail(format!(
                "expected a QueryResponse to {}, found undecodable bytes: {e}",
                kind.as_str_name()
            ))
        })
    }

    /// One row of a range answer.
    fn kv(&mut self, bytes: &[u8]) -> Result<(String, Vec<u8>), StubError> {
        match Kv::decode(bytes) {
            Ok(kv) => Ok((kv.key, from_fabric(kv.value))),
            Err(e) => Err(self.fail(format!(
                "expected a range result (queryresult.KV), found undecodable bytes: {e}"
            ))),
        }
    }

    fn fail(&mut self, message: String) -> StubError {
        let err = StubError(message);
        self.failure.get_or_insert_with(|| err.clone());
        err
    }
}

impl Stub for PeerStub {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        check_key(key)?;
        let payload = GetState {
            key: key.to_owned(),
            collection: String::new(),
        };
        let value = self.call(Type::GetState, payload.encode_to_vec())?;
        // Fabric answers a missing key with an empty value.
        Ok((!value.is_empty()).then(|| from_fabric(value)))
    }

    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), StubError> {
        check_key(key)?;
        let payload = PutState {
            key: key.to_owned(),
            value: to_fabric(value),
            collection: String::new(),
        };
        self.call(Type::PutState, payload.encode_to_vec()).map(drop)
    }

    fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        check_key(key)?;
        let payload = DelState {
            key: key.to_owned(),
            collection: String::new(),
        };
        self.call(Type::DelState, payload.encode_to_vec()).map(drop)
    }

    fn get_state_by_range_limited(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let payload = range_request(start, end, Vec::new());
        let mut page = self.query_page(Type::GetStateByRange, payload)?;
        let mut rows = Vec::new();
        // The shim's iterator: read the batch, ask for the next one while the
        // peer has more and the caller wants more, then close.
        loop {
            for result in std::mem::take(&mut page.results) {
                if rows.len() == limit {
                    break;
                }
                rows.push(self.kv(&result.result_bytes)?);
            }
            if rows.len() == limit || !page.has_more {
                break;
            }
            page = self.next_page(&page.id)?;
        }
        self.close_query(page.id)?;
        Ok(rows)
    }

    fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: usize,
        bookmark: &str,
    ) -> Result<RangePage, StubError> {
        let metadata = QueryMetadata {
            page_size: i32::try_from(page_size).unwrap_or(i32::MAX),
            bookmark: bookmark.to_owned(),
        }
        .encode_to_vec();
        let payload = range_request(start, end, metadata);
        let page = self.query_page(Type::GetStateByRange, payload)?;
        let rows = page
            .results
            .iter()
            .map(|r| self.kv(&r.result_bytes))
            .collect::<Result<Vec<_>, _>>()?;
        let metadata = QueryResponseMetadata::decode(page.metadata.as_slice()).map_err(|e| {
            self.fail(format!(
                "expected the paginated range's QueryResponseMetadata, found undecodable bytes: {e}"
            ))
        })?;
        // As the shim's iterator: closed once read (the peer already released it).
        self.close_query(page.id)?;
        Ok(RangePage {
            rows,
            bookmark: metadata.bookmark,
        })
    }

    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        check_key(key)?;
        let payload = GetHistoryForKey {
            key: key.to_owned(),
        };
        let rows = self.drain(Type::GetHistoryForKey, payload.encode_to_vec())?;
        let mut history = rows
            .into_iter()
            .map(|bytes| match FabricModification::decode(bytes.as_slice()) {
                Ok(m) => Ok(KeyModification {
                    tx_id: m.tx_id,
                    timestamp: m
                        .timestamp
                        .map(|t| Timestamp {
                            seconds: t.seconds,
                            nanos: t.nanos,
                        })
                        .unwrap_or_default(),
                    value: from_fabric(m.value),
                    is_delete: m.is_delete,
                }),
                Err(e) => Err(self.fail(format!(
                    "expected a history entry (queryresult.KeyModification), found undecodable bytes: {e}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Fabric answers newest first; the stub promises oldest first.
        history.reverse();
        Ok(history)
    }

    fn tx_id(&self) -> &str {
        &self.tx_id
    }

    fn tx_timestamp(&self) -> Timestamp {
        self.timestamp
    }

    fn set_event(&mut self, name: &str, payload: Vec<u8>) -> Result<(), StubError> {
        if name.is_empty() {
            return Err(StubError(
                "expected a non-empty event name, found \"\"".into(),
            ));
        }
        self.event = Some(ChaincodeEvent {
            event_name: name.to_owned(),
            payload,
            ..Default::default()
        });
        Ok(())
    }
}
