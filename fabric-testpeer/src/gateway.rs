//! The `gateway.Gateway` service, answering as Fabric's
//! `internal/pkg/gateway` does with one local endorser and one orderer:
//! the same checks in the same order, the same codes, messages and
//! `gateway.ErrorDetail`s (see the crate docs for the table).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use carechain_fabric_protos::common::Payload;
use carechain_fabric_protos::common::{Envelope, Status as BroadcastStatus};
use carechain_fabric_protos::gateway::gateway_server::Gateway;
use carechain_fabric_protos::gateway::{
    ChaincodeEventsRequest, ChaincodeEventsResponse, CommitStatusRequest, CommitStatusResponse,
    EndorseRequest, EndorseResponse, ErrorDetail, EvaluateRequest, EvaluateResponse,
    SignedChaincodeEventsRequest, SignedCommitStatusRequest, SubmitRequest, SubmitResponse,
};
use carechain_fabric_protos::orderer::seek_position;
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEndorsedAction, ChaincodeEvent,
    ProposalResponse, ProposalResponsePayload, Response as ChaincodeResponse, Transaction,
    TransactionAction,
};
use futures::Stream;
use tokio::sync::{mpsc, watch};
use tonic::{Code, Request, Response, Status};

use crate::Failure;
use crate::chaincode::STREAM_TERMINATED;
use crate::peer::{Peer, Processed, QSCC};
use crate::proposal::{Target, payload_without_transient, target, unmarshal, unpack};
use crate::status::{error_detail, rpc_error};
use crate::validate::{broadcast_check, policy_failure};

/// Fabric's default gateway `EndorsementTimeout`.
const ENDORSEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The Gateway service of one serving period of the peer.
pub(crate) struct GatewayService {
    pub peer: Arc<Peer>,
    /// Turns true when the gateway stops; long calls end then.
    pub stopping: watch::Receiver<bool>,
}

/// `responseStatus`: the gateway's reading of an endorser's answer:
/// (code, message, retry on another peer).
fn response_status(processed: &Processed) -> (Code, String, bool) {
    match processed {
        (None, Some(err)) => (Code::Unavailable, err.clone(), true),
        (Some(_), Some(err)) => (Code::FailedPrecondition, err.clone(), false),
        (None, None) => (Code::Unavailable, "no response from endorser".into(), true),
        (Some(resp), None) => {
            let r = resp.response.clone().unwrap_or_default();
            if r.status < 200 || r.status >= 400 {
                if resp.payload.is_empty() && r.status == 500 {
                    (Code::Aborted, r.message, true)
                } else {
                    let message = format!("chaincode response {}, {}", r.status, r.message);
                    (Code::Unknown, message, false)
                }
            } else {
                (Code::Ok, String::new(), false)
            }
        }
    }
}

fn acl_denied(channel: &str, policy: &str) -> Status {
    Status::permission_denied(format!(
        "failed evaluating policy on signed data during check policy [/Channel/Application/{policy}]: [{}] (channel {channel})",
        policy_failure(policy)
    ))
}

/// The caller's deadline from the `grpc-timeout` header, shortened a little
/// so the gateway answers as Fabric's does (its context expires) before
/// tonic's own timeout layer, which would answer `Cancelled`.
fn deadline<T>(request: &Request<T>) -> Option<Duration> {
    let value = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    };
    let margin = (timeout / 10).max(Duration::from_millis(10));
    Some(timeout.saturating_sub(margin))
}

/// Runs `call` on the request's message until the caller's deadline;
/// `expired` is the message of the `DeadlineExceeded` status then.
async fn until<T, R, F>(
    request: Request<T>,
    expired: &str,
    call: impl FnOnce(T) -> F,
) -> Result<R, Status>
where
    F: Future<Output = Result<R, Status>>,
{
    match deadline(&request) {
        Some(d) => tokio::time::timeout(d, call(request.into_inner()))
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded(expired))),
        None => call(request.into_inner()).await,
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<ChaincodeEventsResponse, Status>> + Send>>;

impl GatewayService {
    fn detail(&self, message: &str) -> ErrorDetail {
        error_detail(&self.peer.address, &self.peer.msp.id, message)
    }

    /// Calls the endorser, honouring injected failures and the endorse delay;
    /// `Err` is a status to return as is.
    async fn call_endorser(
        &self,
        signed: &carechain_fabric_protos::protos::SignedProposal,
        tx_id: &str,
    ) -> Result<Processed, Status> {
        match self.peer.next_failure() {
            Some(Failure::Unavailable) => {
                return Err(Status::unavailable(format!(
                    "connection error: desc = \"transport: Error while dialing: dial tcp {}: connect: connection refused\"",
                    self.peer.address
                )));
            }
            Some(Failure::PeerError) => {
                let message = format!(
                    "error in simulation: failed to execute transaction {tx_id}: error sending: {STREAM_TERMINATED}"
                );
                let response = ProposalResponse {
                    response: Some(ChaincodeResponse {
                        status: 500,
                        message,
                        payload: Vec::new(),
                    }),
                    ..Default::default()
                };
                return Ok((Some(response), None));
            }
            Some(Failure::NoEndorsementPlan) => {
                // internal/pkg/gateway/registry.go wraps discovery's error so.
                return Err(Status::failed_precondition(format!(
                    "no combination of peers can be derived which satisfy the endorsement policy: \
                     cannot satisfy the endorsement policy of chaincode {}: no peer of Org2MSP is alive",
                    self.peer.chaincode
                )));
            }
            Some(Failure::Timeout) => {
                tokio::time::sleep(ENDORSEMENT_TIMEOUT).await;
                let err = "rpc error: code = DeadlineExceeded desc = context deadline exceeded";
                return Ok((None, Some(err.to_owned())));
            }
            None => {}
        }
        if let Some(delay) = self.peer.endorse_delay {
            tokio::time::sleep(delay).await;
        }
        Ok(self.peer.process_proposal(signed).await)
    }

    fn known(&self, target: &Target) -> bool {
        target.channel == self.peer.channel
            && (target.chaincode == self.peer.chaincode || target.chaincode == QSCC)
    }

    fn check_signed(
        &self,
        channel: &str,
        identity: &[u8],
        request: &[u8],
        signature: &[u8],
    ) -> Result<(), Status> {
        if channel != self.peer.channel {
            return Err(acl_denied(channel, "Readers"));
        }
        self.peer
            .msp
            .check(identity, request, signature)
            .map_err(|_| acl_denied(channel, "Readers"))
    }
}

/// `prepareTransaction`: the unsigned transaction envelope of an endorsed proposal.
fn prepare_transaction(
    header: &carechain_fabric_protos::common::Header,
    payload: &carechain_fabric_protos::protos::ChaincodeProposalPayload,
    action: ChaincodeEndorsedAction,
) -> Envelope {
    let cap = ChaincodeActionPayload {
        chaincode_proposal_payload: payload_without_transient(payload),
        action: Some(action),
    };
    let tx = Transaction {
        actions: vec![TransactionAction {
            header: header.signature_header.clone(),
            payload: cap.encode_to_vec(),
        }],
    };
    Envelope {
        payload: Payload {
            header: Some(header.clone()),
            data: tx.encode_to_vec(),
        }
        .encode_to_vec(),
        signature: Vec::new(),
    }
}

#[tonic::async_trait]
impl Gateway for GatewayService {
    async fn endorse(
        &self,
        request: Request<EndorseRequest>,
    ) -> Result<Response<EndorseResponse>, Status> {
        until(
            request,
            "endorsement timeout expired while collecting first endorsement",
            |r| self.endorse_inner(r),
        )
        .await
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        until(request, "evaluate timeout expired", |r| {
            self.evaluate_inner(r)
        })
        .await
    }

    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        self.submit_inner(request.into_inner())
    }

    async fn commit_status(
        &self,
        request: Request<SignedCommitStatusRequest>,
    ) -> Result<Response<CommitStatusResponse>, Status> {
        until(request, "context deadline exceeded", |r| {
            self.commit_status_inner(r)
        })
        .await
    }

    type ChaincodeEventsStream = EventStream;

    async fn chaincode_events(
        &self,
        request: Request<SignedChaincodeEventsRequest>,
    ) -> Result<Response<Self::ChaincodeEventsStream>, Status> {
        self.chaincode_events_inner(request.into_inner())
    }
}

impl GatewayService {
    async fn endorse_inner(
        &self,
        request: EndorseRequest,
    ) -> Result<Response<EndorseResponse>, Status> {
        let Some(signed) = request
            .proposed_transaction
            .filter(|p| !p.proposal_bytes.is_empty())
        else {
            return Err(Status::invalid_argument(
                "the proposed transaction must contain a signed proposal",
            ));
        };
        let target = target(Some(&signed)).map_err(Status::invalid_argument)?;
        if !self.known(&target) {
            return Err(Status::failed_precondition(format!(
                "No metadata was found for chaincode {} in channel {}",
                target.chaincode, target.channel
            )));
        }
        self.peer.log(format!(
            "Endorse tx={} fn={}",
            target.tx_id, target.function
        ));
        let processed = self.call_endorser(&signed, &target.tx_id).await?;
        let (code, message, _) = response_status(&processed);
        let (Code::Ok, (Some(response), _)) = (code, processed) else {
            return Err(rpc_error(
                Code::Aborted,
                "failed to endorse transaction, see attached details for more info",
                &[self.detail(&message)],
            ));
        };
        let Some(endorsement) = response.endorsement else {
            return Err(rpc_error(
                Code::Aborted,
                "failed to collect enough transaction endorsements, see attached details for more info",
                &[],
            ));
        };
        let up = unpack(&signed)
            .map_err(|e| Status::aborted(format!("failed to assemble transaction: {e}")))?;
        let action = ChaincodeEndorsedAction {
            proposal_response_payload: response.payload,
            endorsements: vec![endorsement],
        };
        let envelope = prepare_transaction(&up.header, &up.payload, action);
        Ok(Response::new(EndorseResponse {
            prepared_transaction: Some(envelope),
        }))
    }

    async fn evaluate_inner(
        &self,
        request: EvaluateRequest,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let signed = request.proposed_transaction;
        let target = target(signed.as_ref()).map_err(|e| {
            Status::invalid_argument(format!("failed to unpack transaction proposal: {e}"))
        })?;
        let Some(signed) = signed.filter(|_| self.known(&target)) else {
            return Err(Status::failed_precondition(format!(
                "no peers available to evaluate chaincode {} in channel {}",
                target.chaincode, target.channel
            )));
        };
        self.peer.log(format!(
            "Evaluate tx={} fn={}",
            target.tx_id, target.function
        ));
        let processed = self.call_endorser(&signed, &target.tx_id).await?;
        let (code, message, retry) = response_status(&processed);
        if code != Code::Ok {
            let detail = [self.detail(&message)];
            return Err(if retry {
                // No other peer to retry on.
                rpc_error(
                    code,
                    "failed to evaluate transaction, see attached details for more info",
                    &detail,
                )
            } else {
                rpc_error(
                    code,
                    format!("evaluate call to endorser returned error: {message}"),
                    &detail,
                )
            });
        }
        let response = processed.0.unwrap_or_default();
        let mut result = response.response.unwrap_or_default();
        // As the gateway: prefer the result in the proposal response payload.
        if let Ok(prp) = ProposalResponsePayload::decode(response.payload.as_slice())
            && let Ok(action) = ChaincodeAction::decode(prp.extension.as_slice())
        {
            result.payload = action.response.map(|r| r.payload).unwrap_or_default();
        }
        Ok(Response::new(EvaluateResponse {
            result: Some(result),
        }))
    }

    fn submit_inner(&self, request: SubmitRequest) -> Result<Response<SubmitResponse>, Status> {
        let Some(envelope) = request.prepared_transaction else {
            return Err(Status::invalid_argument(
                "a prepared transaction is required",
            ));
        };
        if envelope.signature.is_empty() {
            return Err(Status::invalid_argument(
                "prepared transaction must be signed",
            ));
        }
        if request.channel_id != self.peer.channel {
            return Err(Status::failed_precondition(format!(
                "channel {} not found",
                request.channel_id
            )));
        }
        self.peer
            .log(format!("Submit tx={}", request.transaction_id));
        if let Err((status, info)) = broadcast_check(&self.peer.msp, &self.peer.channel, &envelope)
        {
            let name = BroadcastStatus::try_from(status as i32)
                .map(|s| s.as_str_name())
                .unwrap_or("UNKNOWN");
            return Err(rpc_error(
                Code::Aborted,
                format!("received unsuccessful response from orderer: status={name}, info={info}"),
                &[],
            ));
        }
        self.peer
            .orderer
            .send(envelope.encode_to_vec())
            .map_err(|_| {
                rpc_error(
                    Code::Unavailable,
                    "no orderers could successfully process transaction",
                    &[],
                )
            })?;
        Ok(Response::new(SubmitResponse {}))
    }

    async fn commit_status_inner(
        &self,
        signed: SignedCommitStatusRequest,
    ) -> Result<Response<CommitStatusResponse>, Status> {
        if signed.request.is_empty() {
            return Err(Status::invalid_argument(
                "a commit status request is required",
            ));
        }
        let request: CommitStatusRequest = unmarshal(&signed.request, "CommitStatusRequest")
            .map_err(|e| Status::invalid_argument(format!("invalid status request: {e}")))?;
        self.check_signed(
            &request.channel_id,
            &request.identity,
            &signed.request,
            &signed.signature,
        )?;
        self.peer
            .log(format!("CommitStatus tx={}", request.transaction_id));
        let mut height = self.peer.height.subscribe();
        let mut stopping = self.stopping.clone();
        loop {
            if let Some(status) = self.peer.ledger().status(&request.transaction_id) {
                return Ok(Response::new(CommitStatusResponse {
                    result: status.code as i32,
                    block_number: status.block,
                }));
            }
            tokio::select! {
                changed = height.changed() => if changed.is_err() {
                    return Err(Status::unavailable("the peer is shutting down"));
                },
                _ = stopping.wait_for(|s| *s) => return Err(Status::unavailable("transport is closing")),
            }
        }
    }

    fn chaincode_events_inner(
        &self,
        signed: SignedChaincodeEventsRequest,
    ) -> Result<Response<EventStream>, Status> {
        if signed.request.is_empty() {
            return Err(Status::invalid_argument(
                "a chaincode events request is required",
            ));
        }
        let request: ChaincodeEventsRequest = unmarshal(&signed.request, "ChaincodeEventsRequest")
            .map_err(|e| {
                Status::invalid_argument(format!("invalid chaincode events request: {e}"))
            })?;
        self.check_signed(
            &request.channel_id,
            &request.identity,
            &signed.request,
            &signed.signature,
        )?;
        let start = {
            let ledger = self.peer.ledger();
            let after = (!request.after_transaction_id.is_empty())
                .then(|| ledger.status(&request.after_transaction_id))
                .flatten();
            match (
                after,
                request
                    .start_position
                    .as_ref()
                    .and_then(|p| p.r#type.as_ref()),
            ) {
                (Some(status), _) => status.block,
                (None, None | Some(seek_position::Type::NextCommit(_))) => ledger.height(),
                (None, Some(seek_position::Type::Specified(s))) => s.number,
                (None, Some(other)) => {
                    let kind = match other {
                        seek_position::Type::Oldest(_) => "*orderer.SeekPosition_Oldest",
                        _ => "*orderer.SeekPosition_Newest",
                    };
                    return Err(Status::invalid_argument(format!(
                        "invalid start position type: {kind}"
                    )));
                }
            }
        };
        self.peer.log(format!(
            "ChaincodeEvents cc={} start={start} after={}",
            request.chaincode_id, request.after_transaction_id
        ));
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(stream_events(
            Arc::clone(&self.peer),
            self.stopping.clone(),
            request,
            start,
            tx,
        ));
        let stream =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// Sends one response per block with matching events, from `start`, live.
async fn stream_events(
    peer: Arc<Peer>,
    mut stopping: watch::Receiver<bool>,
    request: ChaincodeEventsRequest,
    start: u64,
    out: mpsc::Sender<Result<ChaincodeEventsResponse, Status>>,
) {
    let mut height = peer.height.subscribe();
    // chaincodeEventMatcher: skip up to and including the previous transaction.
    let mut passed = request.after_transaction_id.is_empty();
    let mut next = start;
    loop {
        let blocks: Vec<(u64, Vec<ChaincodeEvent>)> = {
            let ledger = peer.ledger();
            (next..ledger.height())
                .map(|n| (n, ledger.events(n).to_vec()))
                .collect()
        };
        for (number, events) in blocks {
            next = number + 1;
            let matching: Vec<ChaincodeEvent> = events
                .into_iter()
                .filter(|e| {
                    if !passed {
                        passed = e.tx_id == request.after_transaction_id;
                        return false;
                    }
                    e.chaincode_id == request.chaincode_id
                })
                .collect();
            if matching.is_empty() {
                continue;
            }
            let response = ChaincodeEventsResponse {
                events: matching,
                block_number: number,
            };
            if out.send(Ok(response)).await.is_err() {
                return;
            }
        }
        let stopped = tokio::select! {
            changed = height.changed() => if changed.is_err() { return } else { false },
            _ = stopping.wait_for(|s| *s) => true,
            () = out.closed() => return,
        };
        if stopped {
            let _ = out
                .send(Err(Status::unavailable("transport is closing")))
                .await;
            return;
        }
    }
}
