//! The peer's side of the chaincode protocol (`protos.Chaincode/Connect`),
//! as Fabric's `core/chaincode` handler speaks it to a chaincode-as-a-service
//! server: the peer dials, the shim sends `REGISTER` with its package id, the
//! peer answers `REGISTERED` then `READY`; then each proposal is a
//! `TRANSACTION` carrying the input and the signed proposal, during which the
//! shim's state requests are answered from the committed world state while
//! the transaction simulator records the read-write set:
//!
//! - `GET_STATE` records a read with the committed version (none when absent);
//! - `PUT_STATE`/`DEL_STATE` record writes (an empty value is a delete);
//! - `GET_STATE_BY_RANGE` without pagination opens an iterator read lazily,
//!   100 rows per `RESPONSE`/`QUERY_STATE_NEXT`, until `QUERY_STATE_CLOSE`;
//!   its range query info (for phantom-read checks) holds the rows sent and
//!   is marked exhausted only when the end was reached;
//! - `GET_STATE_BY_RANGE` with `QueryMetadata` (page size, bookmark) is
//!   Fabric's paginated range query: one response with the page and
//!   `QueryResponseMetadata` (count, bookmark of the next page); as Fabric's
//!   simulator, it is refused after a write, and refuses writes after it;
//! - `GET_HISTORY_FOR_KEY` answers newest first.
//!
//! Reads never see the transaction's own writes, as in Fabric's simulator.
//! The transaction ends with `COMPLETED` (a `protos.Response` and maybe an
//! event, which the peer stamps with chaincode id and tx id) or `ERROR`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use carechain_fabric_protos::kvrwset::{
    KvRead, KvWrite, QueryReads, RangeQueryInfo, Version, range_query_info,
};
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::chaincode_client::ChaincodeClient;
use carechain_fabric_protos::protos::chaincode_message::Type;
use carechain_fabric_protos::protos::{
    ChaincodeEvent, ChaincodeId, ChaincodeInput, ChaincodeMessage, DelState, GetHistoryForKey,
    GetState, GetStateByRange, PutState, QueryMetadata, QueryResponse, QueryResponseMetadata,
    QueryResultBytes, QueryStateClose, QueryStateNext, Response, SignedProposal,
};
use carechain_fabric_protos::queryresult::Kv;
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tonic::transport::Endpoint;

use crate::ledger::Ledger;

/// Rows per page of a range or history answer (Fabric's `maxResultLimit`).
const PAGE_SIZE: usize = 100;
/// Most rows of one paginated query (Fabric's `ledger.state.totalQueryLimit`).
const TOTAL_QUERY_LIMIT: usize = 100_000;
/// How long a transaction may run (Fabric's `chaincode.executetimeout`).
const EXECUTE_TIMEOUT: Duration = Duration::from_secs(30);
/// The suffix Fabric's gateway recognises as a broken chaincode stream.
pub(crate) const STREAM_TERMINATED: &str = "chaincode stream terminated";

/// Why the chaincode could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The chaincode server could not be dialled or refused `Connect`.
    #[error("cannot connect to the chaincode server at {address}: {reason}")]
    Dial {
        /// The server's address.
        address: SocketAddr,
        /// What failed.
        reason: String,
    },
    /// The shim did not open with `REGISTER` of the expected package.
    #[error("expected REGISTER of package {expected:?} from the chaincode, found {found}")]
    Register {
        /// The installed package id.
        expected: String,
        /// What came instead.
        found: String,
    },
}

/// What a transaction's simulation produced.
#[derive(Clone, Debug, Default)]
pub(crate) struct Simulation {
    pub response: Response,
    pub event: Option<ChaincodeEvent>,
    pub reads: BTreeMap<String, Option<Version>>,
    pub writes: BTreeMap<String, KvWrite>,
    pub ranges: Vec<RangeQueryInfo>,
}

type Routes = Arc<Mutex<HashMap<(String, String), UnboundedSender<ChaincodeMessage>>>>;

/// One live `Connect` stream to the chaincode.
#[derive(Clone, Debug)]
pub(crate) struct ChaincodeHandler {
    out: UnboundedSender<ChaincodeMessage>,
    routes: Routes,
    /// Set once the stream has ended (the chaincode went away, or
    /// [`ChaincodeHandler::terminate`]): every later transaction fails as the
    /// peer's handler fails it, "chaincode stream terminated".
    terminated: Arc<AtomicBool>,
    /// Wakes the stream's reader to close it.
    close: Arc<Notify>,
}

fn message(kind: Type, channel: &str, tx_id: &str, payload: Vec<u8>) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: kind as i32,
        payload,
        txid: tx_id.to_owned(),
        channel_id: channel.to_owned(),
        ..Default::default()
    }
}

impl ChaincodeHandler {
    /// Dials the chaincode server and runs the registration handshake.
    pub(crate) async fn connect(
        address: SocketAddr,
        package_id: &str,
    ) -> Result<Self, ConnectError> {
        let dial = |reason: String| ConnectError::Dial { address, reason };
        let channel = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| dial(e.to_string()))?
            .connect()
            .await
            .map_err(|e| dial(e.to_string()))?;
        let (out, rx) = unbounded_channel::<ChaincodeMessage>();
        let outgoing =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
        let mut inbound = ChaincodeClient::new(channel)
            .connect(tonic::Request::new(outgoing))
            .await
            .map_err(|e| dial(e.to_string()))?
            .into_inner();
        let first = inbound.message().await.map_err(|e| dial(e.to_string()))?;
        let registered = first.as_ref().and_then(|m| {
            (m.r#type == Type::Register as i32)
                .then(|| ChaincodeId::decode(m.payload.as_slice()).ok())
                .flatten()
        });
        if registered.as_ref().map(|id| id.name.as_str()) != Some(package_id) {
            return Err(ConnectError::Register {
                expected: package_id.to_owned(),
                found: format!("{first:?}"),
            });
        }
        let _ = out.send(message(Type::Registered, "", "", Vec::new()));
        let _ = out.send(message(Type::Ready, "", "", Vec::new()));
        let routes: Routes = Arc::default();
        let reader_routes = Arc::clone(&routes);
        let terminated = Arc::new(AtomicBool::new(false));
        let close = Arc::new(Notify::new());
        let (reader_terminated, reader_close) = (Arc::clone(&terminated), Arc::clone(&close));
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    msg = inbound.message() => msg,
                    () = reader_close.notified() => break,
                };
                let Ok(Some(msg)) = msg else { break };
                if msg.r#type == Type::Keepalive as i32 {
                    continue;
                }
                let key = (msg.channel_id.clone(), msg.txid.clone());
                let guard = reader_routes.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(route) = guard.get(&key) {
                    let _ = route.send(msg);
                }
            }
            // The stream ended: every transaction waiting on it fails, and so
            // does every later one.
            reader_terminated.store(true, Ordering::SeqCst);
            reader_routes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        });
        Ok(Self {
            out,
            routes,
            terminated,
            close,
        })
    }

    /// Ends the stream as a crashed chaincode process would.
    pub(crate) fn terminate(&self) {
        self.terminated.store(true, Ordering::SeqCst);
        self.close.notify_one();
    }

    /// Runs `input` as transaction `tx_id` and records its read-write set in `namespace`.
    pub(crate) async fn execute(
        &self,
        ledger: &Mutex<Ledger>,
        namespace: &str,
        channel: &str,
        tx_id: &str,
        input: &ChaincodeInput,
        proposal: &SignedProposal,
    ) -> Result<Simulation, String> {
        if self.terminated.load(Ordering::SeqCst) {
            return Err(format!("error sending: {STREAM_TERMINATED}"));
        }
        let key = (channel.to_owned(), tx_id.to_owned());
        let (sender, replies) = unbounded_channel();
        {
            let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            if routes.contains_key(&key) {
                return Err(format!("txid: {tx_id}({channel}) exists"));
            }
            routes.insert(key.clone(), sender);
        }
        let mut tx = TxRun {
            ledger,
            namespace,
            channel,
            tx_id,
            out: &self.out,
            sim: Simulation::default(),
            iterators: HashMap::new(),
            next_iterator: 0,
            paginated: false,
        };
        let run = tx.run(replies, input, proposal);
        let result = match tokio::time::timeout(EXECUTE_TIMEOUT, run).await {
            Ok(result) => result,
            Err(_) => Err("timeout expired while executing transaction".into()),
        };
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        result.map(|()| tx.sim)
    }
}

struct TxRun<'a> {
    ledger: &'a Mutex<Ledger>,
    namespace: &'a str,
    channel: &'a str,
    tx_id: &'a str,
    out: &'a UnboundedSender<ChaincodeMessage>,
    sim: Simulation,
    iterators: HashMap<String, Cursor>,
    next_iterator: u64,
    /// Whether a paginated query ran (then no write may follow).
    paginated: bool,
}

impl TxRun<'_> {
    fn send(&self, kind: Type, payload: Vec<u8>) -> Result<(), String> {
        self.out
            .send(message(kind, self.channel, self.tx_id, payload))
            .map_err(|_| format!("error sending: {STREAM_TERMINATED}"))
    }

    async fn run(
        &mut self,
        mut replies: UnboundedReceiver<ChaincodeMessage>,
        input: &ChaincodeInput,
        proposal: &SignedProposal,
    ) -> Result<(), String> {
        self.out
            .send(ChaincodeMessage {
                proposal: Some(proposal.clone()),
                ..message(
                    Type::Transaction,
                    self.channel,
                    self.tx_id,
                    input.encode_to_vec(),
                )
            })
            .map_err(|_| format!("error sending: {STREAM_TERMINATED}"))?;
        loop {
            let Some(msg) = replies.recv().await else {
                return Err(format!("error receiving: {STREAM_TERMINATED}"));
            };
            let kind = Type::try_from(msg.r#type).ok();
            match kind {
                Some(Type::Completed) => {
                    self.sim.response = Response::decode(msg.payload.as_slice())
                        .map_err(|e| format!("failed to unmarshal response: {e}"))?;
                    self.sim.event = msg.chaincode_event.map(|e| ChaincodeEvent {
                        chaincode_id: self.namespace.to_owned(),
                        tx_id: self.tx_id.to_owned(),
                        ..e
                    });
                    return Ok(());
                }
                Some(Type::Error) => {
                    return Err(format!(
                        "transaction returned with failure: {}",
                        String::from_utf8_lossy(&msg.payload)
                    ));
                }
                _ => {
                    let answer = self.serve(kind, &msg.payload);
                    match answer {
                        Ok(payload) => self.send(Type::Response, payload)?,
                        Err(text) => self.send(Type::Error, text.into_bytes())?,
                    }
                }
            }
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers one state request of the shim.
    fn serve(&mut self, kind: Option<Type>, payload: &[u8]) -> Result<Vec<u8>, String> {
        let bad = |what: &str, e: carechain_fabric_protos::prost::DecodeError| {
            format!("failed to unmarshal {what}: {e}")
        };
        match kind {
            Some(Type::GetState) => {
                let req = GetState::decode(payload).map_err(|e| bad("GetState", e))?;
                if !req.collection.is_empty() {
                    return Err("private data collections are not configured".into());
                }
                let found = self.ledger().get(self.namespace, &req.key);
                let version = found.as_ref().map(|(_, v)| *v);
                self.sim.reads.entry(req.key).or_insert(version);
                Ok(found.map(|(value, _)| value).unwrap_or_default())
            }
            Some(Type::PutState) => {
                let req = PutState::decode(payload).map_err(|e| bad("PutState", e))?;
                self.check_write()?;
                if !req.collection.is_empty() {
                    return Err("private data collections are not configured".into());
                }
                let write = KvWrite {
                    key: req.key.clone(),
                    is_delete: req.value.is_empty(),
                    value: req.value,
                };
                self.sim.writes.insert(req.key, write);
                Ok(Vec::new())
            }
            Some(Type::DelState) => {
                let req = DelState::decode(payload).map_err(|e| bad("DelState", e))?;
                self.check_write()?;
                let write = KvWrite {
                    key: req.key.clone(),
                    is_delete: true,
                    value: Vec::new(),
                };
                self.sim.writes.insert(req.key, write);
                Ok(Vec::new())
            }
            Some(Type::GetStateByRange) => {
                let req =
                    GetStateByRange::decode(payload).map_err(|e| bad("GetStateByRange", e))?;
                if !req.collection.is_empty() {
                    return Err("private data collections are not configured".into());
                }
                let metadata = if req.metadata.is_empty() {
                    None
                } else {
                    Some(
                        QueryMetadata::decode(req.metadata.as_slice())
                            .map_err(|e| bad("QueryMetadata", e))?,
                    )
                };
                match metadata {
                    // As Fabric's `isMetadataSetForPagination`.
                    Some(m) if m.page_size != 0 || !m.bookmark.is_empty() => {
                        self.paginated_range(req.start_key, req.end_key, m)
                    }
                    _ => {
                        self.sim.ranges.push(RangeQueryInfo {
                            start_key: req.start_key.clone(),
                            end_key: req.end_key.clone(),
                            itr_exhausted: false,
                            reads_info: Some(range_query_info::ReadsInfo::RawReads(
                                QueryReads::default(),
                            )),
                        });
                        let cursor = Cursor::Range {
                            next: req.start_key,
                            end: req.end_key,
                            info: self.sim.ranges.len() - 1,
                        };
                        Ok(self.open_iterator(cursor))
                    }
                }
            }
            Some(Type::GetHistoryForKey) => {
                let req =
                    GetHistoryForKey::decode(payload).map_err(|e| bad("GetHistoryForKey", e))?;
                let rows = self
                    .ledger()
                    .history(self.namespace, &req.key)
                    .iter()
                    .map(Message::encode_to_vec)
                    .collect();
                Ok(self.open_iterator(Cursor::Rows(rows)))
            }
            Some(Type::QueryStateNext) => {
                let req = QueryStateNext::decode(payload).map_err(|e| bad("QueryStateNext", e))?;
                self.page(&req.id)
                    .ok_or_else(|| format!("query iterator not found: {}", req.id))
            }
            Some(Type::QueryStateClose) => {
                let req =
                    QueryStateClose::decode(payload).map_err(|e| bad("QueryStateClose", e))?;
                self.iterators.remove(&req.id);
                Ok(QueryResponse {
                    id: req.id,
                    ..Default::default()
                }
                .encode_to_vec())
            }
            other => Err(format!(
                "[{}] Fabric side handler cannot handle message ({}) while in ready state",
                self.tx_id.get(..8).unwrap_or(self.tx_id),
                other.map_or_else(|| "UNKNOWN".to_owned(), |k| k.as_str_name().to_owned())
            )),
        }
    }

    /// Fabric's simulator refuses a write after a paginated query.
    fn check_write(&self) -> Result<(), String> {
        if self.paginated {
            return Err(format!(
                "txid [{}]: unsuppored transaction. Transaction has already performed a paginated query. Writes are not allowed",
                self.tx_id
            ));
        }
        Ok(())
    }

    /// `GetStateRangeScanIteratorWithPagination`: one page from the bookmark
    /// (or the start key), its rows in one response with `has_more` false and
    /// the bookmark (the first key after the page, empty at the end) and the
    /// count in `QueryResponseMetadata`; the query context is released at once.
    fn paginated_range(
        &mut self,
        start_key: String,
        end_key: String,
        metadata: QueryMetadata,
    ) -> Result<Vec<u8>, String> {
        if !self.sim.writes.is_empty() {
            return Err(format!(
                "txid [{}]: unsuppored transaction. Paginated queries are supported only in a read-only transaction",
                self.tx_id
            ));
        }
        self.paginated = true;
        let start = if metadata.bookmark.is_empty() {
            start_key
        } else {
            metadata.bookmark
        };
        let page = usize::try_from(metadata.page_size)
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or(TOTAL_QUERY_LIMIT)
            .min(TOTAL_QUERY_LIMIT);
        let mut rows =
            self.ledger()
                .range_limited(self.namespace, &start, &end_key, page.saturating_add(1));
        let bookmark = if rows.len() > page {
            rows.pop().map(|(key, _, _)| key).unwrap_or_default()
        } else {
            String::new()
        };
        let kv_reads = rows
            .iter()
            .map(|(key, _, v)| KvRead {
                key: key.clone(),
                version: Some(*v),
            })
            .collect();
        self.sim.ranges.push(RangeQueryInfo {
            start_key: start,
            end_key,
            itr_exhausted: bookmark.is_empty(),
            reads_info: Some(range_query_info::ReadsInfo::RawReads(QueryReads {
                kv_reads,
            })),
        });
        self.next_iterator += 1;
        let fetched_records_count = i32::try_from(rows.len()).unwrap_or(i32::MAX);
        Ok(QueryResponse {
            results: rows
                .into_iter()
                .map(|(key, value, _)| QueryResultBytes {
                    result_bytes: self.kv(key, value),
                })
                .collect(),
            has_more: false,
            id: format!("{}-{}", self.tx_id, self.next_iterator),
            metadata: QueryResponseMetadata {
                fetched_records_count,
                bookmark,
            }
            .encode_to_vec(),
        }
        .encode_to_vec())
    }

    fn kv(&self, key: String, value: Vec<u8>) -> Vec<u8> {
        Kv {
            namespace: self.namespace.to_owned(),
            key,
            value,
        }
        .encode_to_vec()
    }

    fn open_iterator(&mut self, iterator: Cursor) -> Vec<u8> {
        self.next_iterator += 1;
        let id = format!("{}-{}", self.tx_id, self.next_iterator);
        self.iterators.insert(id.clone(), iterator);
        self.page(&id).unwrap_or_default()
    }

    /// The next batch of an iterator: at most [`PAGE_SIZE`] rows, read from
    /// the ledger only now (a range's rows join its read set as they are
    /// sent; its end, once reached, marks the range exhausted).
    fn page(&mut self, id: &str) -> Option<Vec<u8>> {
        let (results, has_more) = match self.iterators.get_mut(id)? {
            Cursor::Rows(rows) => {
                let take = rows.len().min(PAGE_SIZE);
                let results: Vec<Vec<u8>> = rows.drain(..take).collect();
                (results, !rows.is_empty())
            }
            Cursor::Range { next, end, info } => {
                let (start, end, info) = (next.clone(), end.clone(), *info);
                let mut rows = self
                    .ledger
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .range_limited(self.namespace, &start, &end, PAGE_SIZE + 1);
                let following = (rows.len() > PAGE_SIZE)
                    .then(|| rows.pop().map(|(key, _, _)| key))
                    .flatten();
                let range = &mut self.sim.ranges[info];
                if let Some(range_query_info::ReadsInfo::RawReads(reads)) = &mut range.reads_info {
                    reads.kv_reads.extend(rows.iter().map(|(key, _, v)| KvRead {
                        key: key.clone(),
                        version: Some(*v),
                    }));
                }
                range.itr_exhausted = following.is_none();
                let has_more = following.is_some();
                if let (Some(key), Some(Cursor::Range { next, .. })) =
                    (following, self.iterators.get_mut(id))
                {
                    *next = key;
                }
                let results = rows
                    .into_iter()
                    .map(|(key, value, _)| self.kv(key, value))
                    .collect();
                (results, has_more)
            }
        };
        Some(
            QueryResponse {
                results: results
                    .into_iter()
                    .map(|result_bytes| QueryResultBytes { result_bytes })
                    .collect(),
                has_more,
                id: id.to_owned(),
                metadata: Vec::new(),
            }
            .encode_to_vec(),
        )
    }
}

/// An open query iterator of a transaction.
enum Cursor {
    /// History rows, already read, sent in batches.
    Rows(VecDeque<Vec<u8>>),
    /// A range read lazily: the next key to read, the end, and the index of
    /// its `RangeQueryInfo` in the simulation.
    Range {
        next: String,
        end: String,
        info: usize,
    },
}
