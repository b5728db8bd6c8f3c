//! A peer-side test harness of the chaincode protocol: it dials the chaincode
//! server over real gRPC, answers `REGISTER` with `REGISTERED` and `READY`,
//! sends `TRANSACTION`s with a signed proposal, and answers the shim's state
//! requests from an in-memory world state with Fabric's rules (an empty write
//! is a delete, range results paged with `QUERY_STATE_NEXT`/`CLOSE`, history
//! newest first), committing a transaction's writes only when asked and only
//! when its response has status 200.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::prost_types::Timestamp as PbTimestamp;
use carechain_fabric_protos::protos::chaincode_client::ChaincodeClient;
use carechain_fabric_protos::protos::chaincode_message::Type;
use carechain_fabric_protos::protos::*;
use carechain_fabric_protos::queryresult::{KeyModification, Kv};
use carechain_fabric_protos::tonic::transport::Endpoint;
use carechain_fabric_protos::tonic::{Request, Streaming};
use carechain_fabric_protos::{common, tonic};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

pub const CHANNEL: &str = "mychannel";

/// How a transaction ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// `COMPLETED`: the response and the event.
    Completed(Response, Option<ChaincodeEvent>),
    /// `ERROR`: its text.
    Error(String),
}

/// A transaction to send.
pub struct Tx {
    pub msg: ChaincodeMessage,
    pub commit: bool,
    pub seconds: i64,
}

/// A message of `kind` for transaction `tx_id`.
pub fn message(kind: Type, tx_id: &str, payload: Vec<u8>) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: kind as i32,
        payload,
        txid: tx_id.to_owned(),
        channel_id: CHANNEL.to_owned(),
        ..Default::default()
    }
}

/// A signed proposal whose channel header carries `tx_id` and the timestamp.
pub fn signed_proposal(tx_id: &str, seconds: i64, args: &[Vec<u8>]) -> SignedProposal {
    let channel_header = common::ChannelHeader {
        r#type: common::HeaderType::EndorserTransaction as i32,
        channel_id: CHANNEL.to_owned(),
        tx_id: tx_id.to_owned(),
        timestamp: Some(PbTimestamp { seconds, nanos: 0 }),
        ..Default::default()
    };
    let header = common::Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: Vec::new(),
    };
    let input = ChaincodeInput {
        args: args.to_vec(),
        ..Default::default()
    };
    let payload = ChaincodeProposalPayload {
        input: ChaincodeInvocationSpec {
            chaincode_spec: Some(ChaincodeSpec {
                input: Some(input),
                ..Default::default()
            }),
        }
        .encode_to_vec(),
        ..Default::default()
    };
    let proposal = Proposal {
        header: header.encode_to_vec(),
        payload: payload.encode_to_vec(),
        extension: Vec::new(),
    };
    SignedProposal {
        proposal_bytes: proposal.encode_to_vec(),
        signature: b"not checked by the shim".to_vec(),
    }
}

/// `function(args)` as transaction `tx_id` at `seconds`.
pub fn transaction(
    tx_id: &str,
    seconds: i64,
    function: &str,
    args: &[Vec<u8>],
) -> ChaincodeMessage {
    let mut all = vec![function.as_bytes().to_vec()];
    all.extend(args.iter().cloned());
    let input = ChaincodeInput {
        args: all.clone(),
        ..Default::default()
    };
    ChaincodeMessage {
        proposal: Some(signed_proposal(tx_id, seconds, &all)),
        ..message(Type::Transaction, tx_id, input.encode_to_vec())
    }
}

struct InFlight {
    commit: bool,
    seconds: i64,
    writes: BTreeMap<String, Option<Vec<u8>>>,
}

/// The peer's end of one `Connect` stream, with its world state.
pub struct TestPeer {
    out: UnboundedSender<ChaincodeMessage>,
    inbound: Streaming<ChaincodeMessage>,
    /// Committed world state, values as stored on Fabric.
    pub state: BTreeMap<String, Vec<u8>>,
    history: BTreeMap<String, Vec<KeyModification>>,
    iterators: HashMap<String, VecDeque<Vec<u8>>>,
    next_iterator: u64,
    /// Rows per page of a range or history answer.
    pub page_size: usize,
    /// How many `QUERY_STATE_NEXT` requests were answered.
    pub pages_served: usize,
    /// How many paginated `GET_STATE_BY_RANGE` requests were answered.
    pub paginated_ranges: usize,
    /// When set, `GET_STATE` is answered with this `ERROR` text.
    pub fail_reads: Option<String>,
}

impl TestPeer {
    /// Dials the server and opens the stream; returns the shim's first message too.
    pub async fn open(addr: SocketAddr) -> (Self, ChaincodeMessage) {
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("dial the chaincode server");
        let mut client = ChaincodeClient::new(channel);
        let (out, rx) = unbounded_channel();
        let outgoing =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
        let inbound = client
            .connect(Request::new(outgoing))
            .await
            .expect("Connect")
            .into_inner();
        let mut peer = Self {
            out,
            inbound,
            state: BTreeMap::new(),
            history: BTreeMap::new(),
            iterators: HashMap::new(),
            next_iterator: 0,
            page_size: 2,
            pages_served: 0,
            paginated_ranges: 0,
            fail_reads: None,
        };
        let first = peer.recv().await.expect("the shim speaks first");
        (peer, first)
    }

    /// Dials, checks `REGISTER` names `chaincode_id`, and sends `REGISTERED` and `READY`.
    pub async fn ready(addr: SocketAddr, chaincode_id: &str) -> Self {
        let (peer, first) = Self::open(addr).await;
        assert_eq!(first.r#type, Type::Register as i32, "{first:?}");
        let id = ChaincodeId::decode(first.payload.as_slice()).unwrap();
        assert_eq!(id.name, chaincode_id);
        peer.send(message(Type::Registered, "", Vec::new()));
        peer.send(message(Type::Ready, "", Vec::new()));
        peer
    }

    pub fn send(&self, msg: ChaincodeMessage) {
        self.out.send(msg).expect("stream open");
    }

    /// The next message, `None` when the stream ended (or `Err` status).
    pub async fn recv(&mut self) -> Result<ChaincodeMessage, tonic::Status> {
        match tokio::time::timeout(Duration::from_secs(60), self.inbound.message()).await {
            Ok(Ok(Some(msg))) => Ok(msg),
            Ok(Ok(None)) => Err(tonic::Status::cancelled("stream ended")),
            Ok(Err(status)) => Err(status),
            Err(_) => panic!("no message from the chaincode within 60 s"),
        }
    }

    /// Sends `txs` at once and serves their state requests until all end.
    pub async fn run(&mut self, txs: Vec<Tx>) -> HashMap<String, Outcome> {
        let mut flight: HashMap<String, InFlight> = HashMap::new();
        for tx in txs {
            flight.insert(
                tx.msg.txid.clone(),
                InFlight {
                    commit: tx.commit,
                    seconds: tx.seconds,
                    writes: BTreeMap::new(),
                },
            );
            self.send(tx.msg);
        }
        let mut done = HashMap::new();
        while !flight.is_empty() {
            let msg = self.recv().await.expect("a message from the chaincode");
            assert_eq!(msg.channel_id, CHANNEL, "{msg:?}");
            let tx_id = msg.txid.clone();
            let Some(tx) = flight.get_mut(&tx_id) else {
                panic!("message for a transaction not in flight: {msg:?}");
            };
            let reply = |kind: Type, payload: Vec<u8>| message(kind, &tx_id, payload);
            match Type::try_from(msg.r#type).unwrap() {
                Type::GetState => {
                    let req = GetState::decode(msg.payload.as_slice()).unwrap();
                    assert!(req.collection.is_empty());
                    let answer = match &self.fail_reads {
                        Some(text) => reply(Type::Error, text.clone().into_bytes()),
                        None => reply(
                            Type::Response,
                            self.state.get(&req.key).cloned().unwrap_or_default(),
                        ),
                    };
                    self.send(answer);
                }
                Type::PutState => {
                    let req = PutState::decode(msg.payload.as_slice()).unwrap();
                    // Fabric: a write of an empty value is a delete.
                    let value = (!req.value.is_empty()).then_some(req.value);
                    tx.writes.insert(req.key, value);
                    self.send(reply(Type::Response, Vec::new()));
                }
                Type::DelState => {
                    let req = DelState::decode(msg.payload.as_slice()).unwrap();
                    tx.writes.insert(req.key, None);
                    self.send(reply(Type::Response, Vec::new()));
                }
                Type::GetStateByRange => {
                    let req = GetStateByRange::decode(msg.payload.as_slice()).unwrap();
                    let metadata = QueryMetadata::decode(req.metadata.as_slice()).unwrap();
                    if metadata.page_size != 0 || !metadata.bookmark.is_empty() {
                        // Fabric's paginated range: one answer, the bookmark in metadata.
                        self.paginated_ranges += 1;
                        let page = self.paginated(&req, &metadata);
                        self.send(reply(Type::Response, page));
                        continue;
                    }
                    let rows = self
                        .state
                        .range(req.start_key.clone()..)
                        .take_while(|(k, _)| req.end_key.is_empty() || **k < req.end_key)
                        .map(|(k, v)| {
                            Kv {
                                namespace: "carechain".into(),
                                key: k.clone(),
                                value: v.clone(),
                            }
                            .encode_to_vec()
                        })
                        .collect();
                    let page = self.open_iterator(rows);
                    self.send(reply(Type::Response, page));
                }
                Type::GetHistoryForKey => {
                    let req = GetHistoryForKey::decode(msg.payload.as_slice()).unwrap();
                    let rows = self
                        .history
                        .get(&req.key)
                        .into_iter()
                        .flatten()
                        .rev() // Fabric: newest first.
                        .map(Message::encode_to_vec)
                        .collect();
                    let page = self.open_iterator(rows);
                    self.send(reply(Type::Response, page));
                }
                Type::QueryStateNext => {
                    let req = QueryStateNext::decode(msg.payload.as_slice()).unwrap();
                    self.pages_served += 1;
                    let answer = match self.page(&req.id) {
                        Some(page) => reply(Type::Response, page),
                        None => reply(Type::Error, b"query iterator not found".to_vec()),
                    };
                    self.send(answer);
                }
                Type::QueryStateClose => {
                    let req = QueryStateClose::decode(msg.payload.as_slice()).unwrap();
                    self.iterators.remove(&req.id);
                    let closed = QueryResponse {
                        id: req.id,
                        ..Default::default()
                    };
                    self.send(reply(Type::Response, closed.encode_to_vec()));
                }
                Type::Completed => {
                    let tx = flight.remove(&tx_id).unwrap();
                    let response = Response::decode(msg.payload.as_slice()).unwrap();
                    if tx.commit && response.status == 200 {
                        self.apply(&tx_id, tx.seconds, tx.writes);
                    }
                    done.insert(tx_id, Outcome::Completed(response, msg.chaincode_event));
                }
                Type::Error => {
                    flight.remove(&tx_id);
                    let text = String::from_utf8_lossy(&msg.payload).into_owned();
                    done.insert(tx_id, Outcome::Error(text));
                }
                other => panic!("unexpected {other:?} from the chaincode: {msg:?}"),
            }
        }
        done
    }

    /// Runs one transaction to its end.
    pub async fn run_one(&mut self, msg: ChaincodeMessage, commit: bool, seconds: i64) -> Outcome {
        let tx_id = msg.txid.clone();
        let mut done = self
            .run(vec![Tx {
                msg,
                commit,
                seconds,
            }])
            .await;
        done.remove(&tx_id).unwrap()
    }

    /// Whether every range/history iterator the shim opened was closed.
    pub fn iterators_closed(&self) -> bool {
        self.iterators.is_empty()
    }

    /// `GetStateByRangeWithPagination` as the peer answers it: at most
    /// `page_size` rows from the bookmark (or the start key), `has_more`
    /// false, and the next page's first key as the bookmark.
    fn paginated(&mut self, req: &GetStateByRange, metadata: &QueryMetadata) -> Vec<u8> {
        let start = if metadata.bookmark.is_empty() {
            req.start_key.clone()
        } else {
            metadata.bookmark.clone()
        };
        let size = usize::try_from(metadata.page_size).unwrap();
        let mut rows: Vec<(String, Vec<u8>)> = self
            .state
            .range(start..)
            .take_while(|(k, _)| req.end_key.is_empty() || **k < req.end_key)
            .take(size + 1)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let bookmark = if rows.len() > size {
            rows.pop().unwrap().0
        } else {
            String::new()
        };
        self.next_iterator += 1;
        QueryResponse {
            results: rows
                .iter()
                .map(|(key, value)| QueryResultBytes {
                    result_bytes: Kv {
                        namespace: "carechain".into(),
                        key: key.clone(),
                        value: value.clone(),
                    }
                    .encode_to_vec(),
                })
                .collect(),
            has_more: false,
            id: format!("iter{}", self.next_iterator),
            metadata: QueryResponseMetadata {
                fetched_records_count: i32::try_from(rows.len()).unwrap(),
                bookmark,
            }
            .encode_to_vec(),
        }
        .encode_to_vec()
    }

    fn open_iterator(&mut self, rows: Vec<Vec<u8>>) -> Vec<u8> {
        self.next_iterator += 1;
        let id = format!("iter{}", self.next_iterator);
        self.iterators.insert(id.clone(), rows.into());
        self.page(&id).unwrap()
    }

    fn page(&mut self, id: &str) -> Option<Vec<u8>> {
        let rows = self.iterators.get_mut(id)?;
        let take = rows.len().min(self.page_size);
        let results = rows
            .drain(..take)
            .map(|result_bytes| QueryResultBytes { result_bytes })
            .collect();
        let has_more = !rows.is_empty();
        Some(
            QueryResponse {
                results,
                has_more,
                id: id.to_owned(),
                metadata: Vec::new(),
            }
            .encode_to_vec(),
        )
    }

    fn apply(&mut self, tx_id: &str, seconds: i64, writes: BTreeMap<String, Option<Vec<u8>>>) {
        for (key, value) in writes {
            self.history
                .entry(key.clone())
                .or_default()
                .push(KeyModification {
                    tx_id: tx_id.to_owned(),
                    value: value.clone().unwrap_or_default(),
                    timestamp: Some(PbTimestamp { seconds, nanos: 0 }),
                    is_delete: value.is_none(),
                });
            match value {
                Some(v) => self.state.insert(key, v),
                None => self.state.remove(&key),
            };
        }
    }
}
