//! One peer connection (`Connect` stream), as the Go shim's handler runs it:
//! `REGISTER` is sent first; the peer answers `REGISTERED`, then `READY`; from
//! then on `TRANSACTION` and `INIT` messages run concurrently, each keyed by
//! (channel, tx id), and the peer's `RESPONSE`/`ERROR` messages are routed to
//! the transaction that asked. `KEEPALIVE` is echoed in any state. A message
//! the state does not allow is answered with `ERROR` and ends the stream.
//!
//! A transaction's result is `COMPLETED` carrying a `protos.Response`: status
//! 200 and the contract's payload, or the contract's refusal status (400–500)
//! with `"{code}: {message}"`, which the peer turns into a failed endorsement
//! (it fails every response with status ≥ 400). The event goes in
//! `COMPLETED.chaincode_event`.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::chaincode_message::Type;
use carechain_fabric_protos::protos::{
    ChaincodeId, ChaincodeInput, ChaincodeMessage, Response, SignedProposal,
};
use carechain_fabric_protos::tonic::{Status, Streaming};
use carechain_fabric_protos::{common, protos};
use tokio::sync::mpsc::UnboundedSender;

use super::peer_stub::PeerStub;
use crate::stub::{Chaincode, ChaincodeError, Timestamp};

/// Messages to the peer (an `Err` ends the stream with that status).
pub(crate) type Outbox = UnboundedSender<Result<ChaincodeMessage, Status>>;

/// Reply routes of the transactions in flight, by (channel, tx id).
type Routes = Arc<Mutex<HashMap<(String, String), mpsc::Sender<ChaincodeMessage>>>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Created,
    Established,
    Ready,
}

/// The `REGISTER` message that opens the conversation.
pub(crate) fn register(chaincode_id: &str) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: Type::Register as i32,
        payload: ChaincodeId {
            name: chaincode_id.to_owned(),
            ..Default::default()
        }
        .encode_to_vec(),
        ..Default::default()
    }
}

/// Runs the conversation until the peer closes the stream or breaks the protocol.
pub(crate) async fn run(
    mut inbound: Streaming<ChaincodeMessage>,
    out: Outbox,
    chaincode: Arc<dyn Chaincode>,
) {
    let routes: Routes = Arc::default();
    let mut state = State::Created;
    let outcome = loop {
        let msg = match inbound.message().await {
            Ok(Some(msg)) => msg,
            Ok(None) => break Ok(()),
            Err(status) => break Err(status),
        };
        let kind = Type::try_from(msg.r#type).ok();
        if kind == Some(Type::Keepalive) {
            let _ = out.send(Ok(msg));
            continue;
        }
        let refused = match (state, kind) {
            (State::Created, Some(Type::Registered)) => {
                state = State::Established;
                None
            }
            (State::Established, Some(Type::Ready)) => {
                state = State::Ready;
                None
            }
            (State::Ready, Some(Type::Response | Type::Error)) => route(&routes, msg.clone()),
            (State::Ready, Some(Type::Transaction | Type::Init)) => {
                spawn_transaction(msg.clone(), &out, &routes, &chaincode);
                None
            }
            _ => Some(format!(
                "[{}] chaincode cannot handle message type {} while in state {state:?}",
                short(&msg.txid),
                kind.map_or_else(|| msg.r#type.to_string(), |k| k.as_str_name().to_owned())
            )),
        };
        if let Some(reason) = refused {
            let _ = out.send(Ok(ChaincodeMessage {
                r#type: Type::Error as i32,
                payload: reason.clone().into_bytes(),
                txid: msg.txid,
                ..Default::default()
            }));
            break Err(Status::unknown(format!("error handling message: {reason}")));
        }
    };
    // Dropping the routes fails every transaction still waiting on the peer.
    routes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    if let Err(status) = outcome {
        let _ = out.send(Err(status));
    }
}

fn short(tx_id: &str) -> &str {
    tx_id.get(..8).unwrap_or(tx_id)
}

/// Hands a `RESPONSE`/`ERROR` to the transaction waiting for it.
fn route(routes: &Routes, msg: ChaincodeMessage) -> Option<String> {
    let key = (msg.channel_id.clone(), msg.txid.clone());
    let guard = routes.lock().unwrap_or_else(PoisonError::into_inner);
    match guard.get(&key) {
        Some(sender) => sender.send(msg).err().map(|_| {
            format!(
                "[{}] the transaction stopped waiting for its response",
                short(&key.1)
            )
        }),
        None => Some(format!(
            "[{}] no transaction {} is waiting on channel {:?}",
            short(&key.1),
            key.1,
            key.0
        )),
    }
}

/// Runs a `TRANSACTION`/`INIT` on a blocking thread (the contract is
/// synchronous and CPU-bound) and sends its result.
fn spawn_transaction(
    msg: ChaincodeMessage,
    out: &Outbox,
    routes: &Routes,
    cc: &Arc<dyn Chaincode>,
) {
    let out = out.clone();
    let routes = Arc::clone(routes);
    let chaincode = Arc::clone(cc);
    tokio::task::spawn_blocking(move || {
        let key = (msg.channel_id.clone(), msg.txid.clone());
        let reply = match open(&routes, &key) {
            Ok(replies) => {
                let reply = execute(&msg, &out, replies, chaincode.as_ref());
                routes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&key);
                reply
            }
            Err(reason) => error_reply(&msg, reason),
        };
        let _ = out.send(Ok(reply));
    });
}

fn open(
    routes: &Routes,
    key: &(String, String),
) -> Result<mpsc::Receiver<ChaincodeMessage>, String> {
    let mut guard = routes.lock().unwrap_or_else(PoisonError::into_inner);
    if guard.contains_key(key) {
        return Err(format!(
            "[{}] transaction {} is already running on channel {:?}",
            short(&key.1),
            key.1,
            key.0
        ));
    }
    let (sender, receiver) = mpsc::channel();
    guard.insert(key.clone(), sender);
    Ok(receiver)
}

fn error_reply(msg: &ChaincodeMessage, reason: String) -> ChaincodeMessage {
    ChaincodeMessage {
        r#type: Type::Error as i32,
        payload: reason.into_bytes(),
        txid: msg.txid.clone(),
        channel_id: msg.channel_id.clone(),
        ..Default::default()
    }
}

/// The transaction timestamp: the proposal's channel header timestamp, the
/// one every endorser sees (the Go shim's `GetTxTimestamp`).
pub(crate) fn proposal_timestamp(proposal: Option<&SignedProposal>) -> Result<Timestamp, String> {
    let signed =
        proposal.ok_or("expected the signed proposal in the transaction message, found none")?;
    let proposal = protos::Proposal::decode(signed.proposal_bytes.as_slice())
        .map_err(|e| format!("expected a protos.Proposal, found undecodable bytes: {e}"))?;
    let header = common::Header::decode(proposal.header.as_slice())
        .map_err(|e| format!("expected a common.Header, found undecodable bytes: {e}"))?;
    let channel_header = common::ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|e| format!("expected a common.ChannelHeader, found undecodable bytes: {e}"))?;
    let ts = channel_header
        .timestamp
        .ok_or("expected a timestamp in the proposal's channel header, found none")?;
    Ok(Timestamp {
        seconds: ts.seconds,
        nanos: ts.nanos,
    })
}

fn execute(
    msg: &ChaincodeMessage,
    out: &Outbox,
    replies: mpsc::Receiver<ChaincodeMessage>,
    chaincode: &dyn Chaincode,
) -> ChaincodeMessage {
    let input = match ChaincodeInput::decode(msg.payload.as_slice()) {
        Ok(input) => input,
        Err(e) => return error_reply(msg, format!("failed to unmarshal input: {e}")),
    };
    let timestamp = match proposal_timestamp(msg.proposal.as_ref()) {
        Ok(ts) => ts,
        Err(reason) => return error_reply(msg, format!("failed to create the stub: {reason}")),
    };
    let mut stub = PeerStub {
        channel_id: msg.channel_id.clone(),
        tx_id: msg.txid.clone(),
        timestamp,
        out: out.clone(),
        replies,
        event: None,
        failure: None,
    };
    let result = invoke(&mut stub, chaincode, &input.args);
    let result = match stub.failure.take() {
        Some(failure) => Err(ChaincodeError {
            status: 500,
            code: "ledger_unavailable".into(),
            message: failure.to_string(),
        }),
        None => result,
    };
    let response = match result {
        Ok(payload) => Response {
            status: 200,
            message: String::new(),
            payload,
        },
        Err(refusal) => Response {
            // The peer fails any status >= 400; the contract's are 400..=500.
            status: i32::from(refusal.status.max(400)),
            message: format!("{}: {}", refusal.code, refusal.message),
            payload: Vec::new(),
        },
    };
    let is_init = Type::try_from(msg.r#type) == Ok(Type::Init);
    if is_init && response.status >= 500 {
        // As the Go shim's Init: a failed Init is an ERROR message.
        return error_reply(msg, response.message);
    }
    ChaincodeMessage {
        r#type: Type::Completed as i32,
        payload: response.encode_to_vec(),
        txid: msg.txid.clone(),
        channel_id: msg.channel_id.clone(),
        chaincode_event: stub.event.take(),
        ..Default::default()
    }
}

/// The contract's call: `args[0]` is the function name, the rest its
/// arguments, as Fabric Gateway clients send them; a panic is a 500 refusal.
fn invoke(
    stub: &mut PeerStub,
    chaincode: &dyn Chaincode,
    args: &[Vec<u8>],
) -> Result<Vec<u8>, ChaincodeError> {
    let Some((function, rest)) = args.split_first() else {
        return Err(ChaincodeError {
            status: 400,
            code: "bad_arguments".into(),
            message: "expected the function name as the first argument, found no arguments".into(),
        });
    };
    let Ok(function) = std::str::from_utf8(function) else {
        return Err(ChaincodeError {
            status: 400,
            code: "bad_arguments".into(),
            message: "expected a UTF-8 function name as the first argument".into(),
        });
    };
    catch_unwind(AssertUnwindSafe(|| chaincode.invoke(stub, function, rest))).unwrap_or_else(
        |panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            Err(ChaincodeError {
                status: 500,
                code: "chaincode_panic".into(),
                message: format!("the contract panicked in {function}: {message}"),
            })
        },
    )
}
