//! The peer itself, behind its gateway: the endorser's `ProcessProposal`
//! (unpack, channel, validate, duplicate check, simulate, endorse) answering
//! a `ProposalResponse` and/or an error exactly where Fabric's does, the
//! query system chaincode `qscc`, and the committer fed by the ordering
//! queue.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use carechain_fabric_protos::common::BlockchainInfo;
use carechain_fabric_protos::common::Envelope;
use carechain_fabric_protos::kvrwset::{KvRead, KvrwSet};
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::{
    ChaincodeAction, ChaincodeCall, ChaincodeId, ChaincodeInterest, Endorsement,
    ProcessedTransaction, ProposalResponse, ProposalResponsePayload, Response, SignedProposal,
};
use carechain_fabric_protos::rwset::{NsReadWriteSet, TxReadWriteSet, tx_read_write_set};
use tokio::sync::{mpsc, watch};

use crate::Failure;
use crate::chaincode::{ChaincodeHandler, Simulation};
use crate::ledger::Ledger;
use crate::pki::{Enrolment, Msp};
use crate::proposal::{Unpacked, unpack};
use crate::validate;

/// The version of the chaincode definition (`peer lifecycle ... --version`).
pub(crate) const CHAINCODE_VERSION: &str = "1.0";
/// The query system chaincode.
pub(crate) const QSCC: &str = "qscc";

/// Everything the gateway serves from; it outlives gateway restarts.
pub(crate) struct Peer {
    pub channel: String,
    pub chaincode: String,
    pub msp: Msp,
    pub identity: Enrolment,
    /// `host:port` of the peer, as its `ErrorDetail`s name it.
    pub address: String,
    pub ledger: Mutex<Ledger>,
    pub height: watch::Sender<u64>,
    pub handler: ChaincodeHandler,
    pub failures: Mutex<VecDeque<Failure>>,
    pub received: Mutex<Vec<String>>,
    pub endorse_delay: Option<Duration>,
    pub orderer: mpsc::UnboundedSender<Vec<u8>>,
}

/// What `ProcessProposal` answers: a response, an error, or both.
pub(crate) type Processed = (Option<ProposalResponse>, Option<String>);

fn peer_error(message: String, with_err: bool) -> Processed {
    let response = ProposalResponse {
        response: Some(Response {
            status: 500,
            message: message.clone(),
            payload: Vec::new(),
        }),
        ..Default::default()
    };
    (Some(response), with_err.then_some(message))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Peer {
    /// The committed ledger.
    pub(crate) fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }

    /// Notes a decoded request for [`crate::TestNetwork::received`].
    pub(crate) fn log(&self, entry: String) {
        lock(&self.received).push(entry);
    }

    /// The next injected endorsement failure, if any.
    pub(crate) fn next_failure(&self) -> Option<Failure> {
        lock(&self.failures).pop_front()
    }

    /// The endorser's `ProcessProposal`.
    pub(crate) async fn process_proposal(&self, signed: &SignedProposal) -> Processed {
        let up = match unpack(signed) {
            Ok(up) => up,
            Err(e) => return peer_error(e, true),
        };
        if up.channel_header.channel_id != self.channel {
            let message = format!("channel '{}' not found", up.channel_header.channel_id);
            return peer_error(message, false);
        }
        if let Err(e) = up.validate(&self.msp) {
            return peer_error(format!("error validating proposal: {e}"), true);
        }
        let tx_id = &up.channel_header.tx_id;
        if self.ledger().status(tx_id).is_some() {
            let creator = hex::encode(&up.signature_header.creator);
            return peer_error(
                format!("duplicate transaction found [{tx_id}]. Creator [{creator}]"),
                true,
            );
        }
        let simulation = if up.chaincode == QSCC {
            Ok(Simulation {
                response: self.qscc(&up.input.args),
                ..Default::default()
            })
        } else if up.chaincode == self.chaincode {
            self.handler
                .execute(
                    &self.ledger,
                    &self.chaincode,
                    &self.channel,
                    tx_id,
                    &up.input,
                    signed,
                )
                .await
        } else {
            let (name, channel) = (&up.chaincode, &self.channel);
            return peer_error(
                format!(
                    "make sure the chaincode {name} has been successfully defined on channel {channel} and try again: chaincode {name} not found"
                ),
                false,
            );
        };
        match simulation {
            Ok(simulation) => (Some(self.endorse(&up, simulation)), None),
            Err(e) => peer_error(format!("error in simulation: {e}"), false),
        }
    }

    /// Builds the proposal response payload and, for a success, endorses it.
    fn endorse(&self, up: &Unpacked, sim: Simulation) -> ProposalResponse {
        let results = rwset(&up.chaincode, &sim);
        let action = ChaincodeAction {
            results,
            events: sim.event.map(|e| e.encode_to_vec()).unwrap_or_default(),
            response: Some(sim.response.clone()),
            chaincode_id: Some(ChaincodeId {
                name: up.chaincode.clone(),
                version: CHAINCODE_VERSION.to_owned(),
                ..Default::default()
            }),
        };
        let prp = ProposalResponsePayload {
            proposal_hash: up.proposal_hash.clone(),
            extension: action.encode_to_vec(),
        }
        .encode_to_vec();
        let status = sim.response.status;
        if status >= 500 {
            return ProposalResponse {
                response: Some(sim.response),
                payload: prp,
                ..Default::default()
            };
        }
        if status >= 400 {
            return ProposalResponse {
                response: Some(sim.response),
                ..Default::default()
            };
        }
        let endorser = self.identity.serialized(&self.msp.id);
        let mut signed = prp.clone();
        signed.extend_from_slice(&endorser);
        let signature = self.identity.sign(&signed);
        ProposalResponse {
            version: 1,
            timestamp: None,
            response: Some(sim.response),
            payload: prp,
            endorsement: Some(Endorsement {
                endorser,
                signature,
            }),
            interest: Some(ChaincodeInterest {
                chaincodes: vec![ChaincodeCall {
                    name: up.chaincode.clone(),
                    ..Default::default()
                }],
            }),
        }
    }

    /// The query system chaincode's `Invoke`.
    fn qscc(&self, args: &[Vec<u8>]) -> Response {
        let error = |message: String| Response {
            status: 500,
            message,
            payload: Vec::new(),
        };
        let ok = |payload: Vec<u8>| Response {
            status: 200,
            message: String::new(),
            payload,
        };
        if args.len() < 2 {
            return error(format!("Incorrect number of arguments, {}", args.len()));
        }
        let function = String::from_utf8_lossy(&args[0]).into_owned();
        let channel = String::from_utf8_lossy(&args[1]).into_owned();
        if function != "GetChainInfo" && args.len() < 3 {
            return error(format!("missing 3rd argument for {function}"));
        }
        if channel != self.channel {
            return error(format!("Invalid chain ID, {channel}"));
        }
        let ledger = self.ledger();
        let arg = || String::from_utf8_lossy(&args[2]).into_owned();
        match function.as_str() {
            "GetChainInfo" => {
                let info: BlockchainInfo = ledger.chain_info();
                ok(info.encode_to_vec())
            }
            "GetBlockByNumber" => {
                let number = match arg().parse::<u64>() {
                    Ok(n) => n,
                    Err(e) => {
                        return error(format!("Failed to parse block number with error {e}"));
                    }
                };
                // As Fabric's block store: MaxUint64 means the newest block.
                let wanted = if number == u64::MAX {
                    ledger.height().saturating_sub(1)
                } else {
                    number
                };
                match ledger.block(wanted) {
                    Some(block) => ok(block.encode_to_vec()),
                    None => error(format!(
                        "Failed to get block number {number}, error Entry not found in index"
                    )),
                }
            }
            "GetBlockByTxID" | "GetTransactionByID" => {
                let tx_id = arg();
                let Some(status) = ledger.status(&tx_id) else {
                    let what = if function == "GetBlockByTxID" {
                        "block"
                    } else {
                        "transaction"
                    };
                    return error(format!(
                        "Failed to get {what} for txID {tx_id}, error Entry not found in index"
                    ));
                };
                let Some(block) = ledger.block(status.block) else {
                    return error(format!("Failed to get block for txID {tx_id}"));
                };
                if function == "GetBlockByTxID" {
                    return ok(block.encode_to_vec());
                }
                let envelope = block
                    .data
                    .as_ref()
                    .and_then(|d| d.data.first())
                    .and_then(|bytes| Envelope::decode(bytes.as_slice()).ok());
                ok(ProcessedTransaction {
                    transaction_envelope: envelope,
                    validation_code: status.code as i32,
                }
                .encode_to_vec())
            }
            _ => error(format!("Requested function {function} not found.")),
        }
    }

    /// Orders and commits the queued envelopes, one block each, until the queue closes.
    pub(crate) async fn commit_loop(
        peer: std::sync::Weak<Peer>,
        mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    ) {
        while let Some(envelope) = queue.recv().await {
            let Some(peer) = peer.upgrade() else { return };
            let height = {
                let mut ledger = peer.ledger();
                let (code, checked) = validate::commit_check(
                    &ledger,
                    &peer.msp,
                    &peer.channel,
                    &peer.chaincode,
                    &envelope,
                );
                ledger.append(envelope, code, Some(checked));
                ledger.height()
            };
            peer.height.send_replace(height);
        }
    }
}

/// The transaction's `TxReadWriteSet` (empty bytes when it read and wrote nothing).
fn rwset(namespace: &str, sim: &Simulation) -> Vec<u8> {
    if sim.reads.is_empty() && sim.writes.is_empty() && sim.ranges.is_empty() {
        return Vec::new();
    }
    let kv = KvrwSet {
        reads: sim
            .reads
            .iter()
            .map(|(key, version)| KvRead {
                key: key.clone(),
                version: *version,
            })
            .collect(),
        range_queries_info: sim.ranges.clone(),
        writes: sim.writes.values().cloned().collect(),
        metadata_writes: Vec::new(),
    };
    TxReadWriteSet {
        data_model: tx_read_write_set::DataModel::Kv as i32,
        ns_rwset: vec![NsReadWriteSet {
            namespace: namespace.to_owned(),
            rwset: kv.encode_to_vec(),
            collection_hashed_rwset: Vec::new(),
        }],
    }
    .encode_to_vec()
}
