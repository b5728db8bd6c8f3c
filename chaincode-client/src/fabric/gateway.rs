//! The Fabric backend of [`Ledger`]: the peer's Gateway service over gRPC,
//! with the relay's MSP identity, as the official Gateway clients use it.
//!
//! - [`Ledger::evaluate`] is `Evaluate` of a signed proposal.
//! - [`Ledger::submit`] is `Endorse` (the gateway collects endorsements and
//!   returns the prepared transaction), the client's signature over the
//!   envelope, `Submit` (to ordering) and `CommitStatus` (blocks until the
//!   peer has committed the block holding it). A transaction invalidated by a
//!   read conflict is run again from a fresh proposal, up to
//!   [`FabricConfig::conflict_retries`] times: the contract refused nothing,
//!   and its statement's nonce was not spent because invalid transactions
//!   change no state.
//! - [`Ledger::events`] is `ChaincodeEvents`, resumed after the last delivered
//!   block when the stream drops ([`events`](super::events)).
//! - [`Ledger::height`], [`Ledger::transactions`] and
//!   [`Ledger::transaction`] are QSCC queries ([`qscc`](super::qscc)).
//!
//! Every call has a deadline (sent to the peer as `grpc-timeout` and enforced
//! here) and transient failures (`Unavailable`, `ResourceExhausted`, an
//! `Aborted` endorsement without a chaincode response) are retried with
//! exponential backoff; errors map to the same [`LedgerError`]s as the
//! embedded backend ([`status`](super::status)).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use carechain_fabric_protos::common::{self, Envelope};
use carechain_fabric_protos::gateway::gateway_client::GatewayClient;
use carechain_fabric_protos::gateway::{EndorseRequest, EvaluateRequest, SubmitRequest};
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::protos::{
    self, ChaincodeAction, ChaincodeActionPayload, ProposalResponsePayload, TxValidationCode,
};
use carechain_fabric_protos::tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use carechain_fabric_protos::tonic::{Request, Response, Status};
use futures::stream::BoxStream;
use rand_core::OsRng;
use tokio::sync::watch;

use super::config::FabricConfig;
use super::identity::{FabricIdentity, IdentityError};
use super::proposal::{self, Prepared};
use super::status::{is_transient, to_ledger_error};
use crate::{ChaincodeEvent, Committed, CommittedTx, Ledger, LedgerError, Proposal, TxMeta};

/// Why the Fabric backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum FabricError {
    /// The MSP identity's files.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The TLS root certificate file could not be read.
    #[error("cannot read the peer's TLS root certificate from {path}: {source}")]
    ReadTlsRoot {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The endpoint is not an `http(s)://host:port` URI.
    #[error("expected the peer endpoint as https://host:port or http://host:port, found {found:?}")]
    BadEndpoint {
        /// The configured endpoint.
        found: String,
    },
    /// An `https` endpoint without a TLS root certificate.
    #[error(
        "the peer endpoint {0} uses TLS: expected tls_root_cert to name the PEM file of the CA that issued the peer's TLS certificate, found none"
    )]
    MissingTlsRoot(String),
    /// The TLS settings were refused.
    #[error("TLS settings for {endpoint}: {reason}")]
    Tls {
        /// The endpoint.
        endpoint: String,
        /// Why.
        reason: String,
    },
}

/// What the backend and its event streams share.
pub(super) struct Inner {
    pub(super) client: GatewayClient<Channel>,
    pub(super) identity: FabricIdentity,
    pub(super) config: FabricConfig,
}

/// A [`Ledger`] on a Fabric peer's Gateway.
pub struct FabricLedger {
    inner: Arc<Inner>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for FabricLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FabricLedger")
            .field("peer", &self.inner.config.peer_endpoint)
            .field("channel", &self.inner.config.channel)
            .field("chaincode", &self.inner.config.chaincode)
            .field("identity", &self.inner.identity)
            .finish()
    }
}

impl FabricLedger {
    /// The backend of `config`, reading the identity and TLS files it names.
    /// The connection is made on first use (and remade after a drop), so the
    /// relay starts while the peer is down; call within a Tokio runtime.
    pub fn connect(config: FabricConfig) -> Result<Self, FabricError> {
        let identity = FabricIdentity::from_files(&config.msp_id, &config.cert, &config.key)?;
        let root = match &config.tls_root_cert {
            Some(path) => Some(
                std::fs::read(path).map_err(|source| FabricError::ReadTlsRoot {
                    path: path.display().to_string(),
                    source,
                })?,
            ),
            None => None,
        };
        Self::with_identity(config, identity, root)
    }

    /// The backend of `config` with an identity and TLS root already loaded
    /// (the files named in `config` are not read).
    pub fn with_identity(
        config: FabricConfig,
        identity: FabricIdentity,
        tls_root_pem: Option<Vec<u8>>,
    ) -> Result<Self, FabricError> {
        let url = config.peer_endpoint.clone();
        let bad = || FabricError::BadEndpoint { found: url.clone() };
        let tls = url.starts_with("https://");
        if !tls && !url.starts_with("http://") {
            return Err(bad());
        }
        let mut endpoint = Endpoint::from_shared(url.clone())
            .map_err(|_| bad())?
            .connect_timeout(config.deadlines.connect)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        if tls {
            let root = tls_root_pem.ok_or_else(|| FabricError::MissingTlsRoot(url.clone()))?;
            let mut settings = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(root));
            if let Some(name) = &config.server_name_override {
                settings = settings.domain_name(name.clone());
            }
            endpoint = endpoint
                .tls_config(settings)
                .map_err(|e| FabricError::Tls {
                    endpoint: url.clone(),
                    reason: e.to_string(),
                })?;
        }
        let client = GatewayClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(100 * 1024 * 1024);
        let (shutdown, _) = watch::channel(false);
        Ok(FabricLedger {
            inner: Arc::new(Inner {
                client,
                identity,
                config,
            }),
            shutdown,
        })
    }

    /// What the event streams and QSCC queries share with it.
    pub(super) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The settings it runs with.
    pub fn config(&self) -> &FabricConfig {
        &self.inner.config
    }

    /// Ends every event stream of this backend (as dropping it does).
    pub fn close(&self) {
        self.shutdown.send_replace(true);
    }

    /// `Evaluate` of a prepared proposal: the chaincode's result payload.
    pub(super) async fn evaluate_prepared(
        &self,
        prepared: Prepared,
    ) -> Result<Vec<u8>, LedgerError> {
        let config = &self.inner.config;
        let request = EvaluateRequest {
            transaction_id: prepared.tx_id.clone(),
            channel_id: config.channel.clone(),
            proposed_transaction: Some(prepared.signed),
            target_organizations: Vec::new(),
        };
        let deadline = config.deadlines.evaluate;
        let response = self
            .inner
            .call("Evaluate", Some(&prepared.tx_id), deadline, |mut client| {
                let request = with_deadline(request.clone(), deadline);
                async move { client.evaluate(request).await }
            })
            .await?;
        Ok(response.result.map(|r| r.payload).unwrap_or_default())
    }

    /// One Endorse → Submit → CommitStatus round; `Ok(Err(code))` when the
    /// transaction was ordered but not valid.
    async fn submit_once(
        &self,
        proposal: &Proposal,
    ) -> Result<Result<Committed, (String, TxValidationCode)>, LedgerError> {
        let inner = &self.inner;
        let config = &inner.config;
        let prepared = inner.prepare(&config.chaincode, &proposal.function, &proposal.args);
        let tx_id = prepared.tx_id.clone();
        let endorse = EndorseRequest {
            transaction_id: tx_id.clone(),
            channel_id: config.channel.clone(),
            proposed_transaction: Some(prepared.signed),
            endorsing_organizations: Vec::new(),
        };
        let deadline = config.deadlines.endorse;
        let endorsed = inner
            .call("Endorse", Some(&tx_id), deadline, |mut client| {
                let request = with_deadline(endorse.clone(), deadline);
                async move { client.endorse(request).await }
            })
            .await?;
        let mut envelope = endorsed
            .prepared_transaction
            .ok_or_else(|| malformed("Endorse", "no prepared transaction"))?;
        let payload = transaction_result(&envelope)?;
        envelope.signature = inner.identity.sign(&envelope.payload);
        let submit = SubmitRequest {
            transaction_id: tx_id.clone(),
            channel_id: config.channel.clone(),
            prepared_transaction: Some(envelope),
        };
        let deadline = config.deadlines.submit;
        inner
            .call("Submit", Some(&tx_id), deadline, |mut client| {
                let request = with_deadline(submit.clone(), deadline);
                async move { client.submit(request).await }
            })
            .await?;
        let status_request = proposal::commit_status(&inner.identity, &config.channel, &tx_id);
        let deadline = config.deadlines.commit_status;
        let status = inner
            .call("CommitStatus", Some(&tx_id), deadline, |mut client| {
                let request = with_deadline(status_request.clone(), deadline);
                async move { client.commit_status(request).await }
            })
            .await?;
        let code = TxValidationCode::try_from(status.result)
            .unwrap_or(TxValidationCode::InvalidOtherReason);
        Ok(if code == TxValidationCode::Valid {
            Ok(Committed {
                tx_id,
                block: status.block_number,
                payload,
            })
        } else {
            Err((tx_id, code))
        })
    }

    /// The events stream's view of the backend.
    pub(super) fn shared(&self) -> (Arc<Inner>, watch::Receiver<bool>) {
        (self.inner.clone(), self.shutdown.subscribe())
    }
}

impl Drop for FabricLedger {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

impl Inner {
    /// A signed proposal of `function(args)` on `chaincode`.
    pub(super) fn prepare(&self, chaincode: &str, function: &str, args: &[Vec<u8>]) -> Prepared {
        proposal::proposal(
            &self.identity,
            &self.config.channel,
            chaincode,
            function,
            args,
            &mut OsRng,
        )
    }

    /// Runs `call` with `deadline`, retrying transient failures with backoff.
    pub(super) async fn call<T, F, Fut>(
        &self,
        name: &'static str,
        tx_id: Option<&str>,
        deadline: Duration,
        mut call: F,
    ) -> Result<T, LedgerError>
    where
        F: FnMut(GatewayClient<Channel>) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        let mut attempt = 0;
        loop {
            let status = match tokio::time::timeout(deadline, call(self.client.clone())).await {
                Ok(Ok(response)) => return Ok(response.into_inner()),
                Ok(Err(status)) => status,
                Err(_) => Status::deadline_exceeded(format!("no answer within {deadline:?}")),
            };
            if attempt < self.config.retries && is_transient(&status) {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            return Err(to_ledger_error(name, tx_id, &status));
        }
    }
}

/// The wait before retry `attempt` (1-based): 100 ms doubling, at most 5 s.
pub(super) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.saturating_sub(1).min(6)))
        .min(Duration::from_secs(5))
}

/// `message` as a request carrying the `grpc-timeout` of `deadline`.
pub(super) fn with_deadline<T>(message: T, deadline: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(deadline);
    request
}

/// A gateway answer that does not decode as the protocol says it must.
pub(super) fn malformed(call: &'static str, what: &str) -> LedgerError {
    LedgerError::Gateway {
        call,
        code: "Malformed".into(),
        message: format!("expected a well-formed {call} response, found {what}"),
    }
}

/// The chaincode's result inside a prepared transaction, where the official
/// clients read it: the `ChaincodeAction.response.payload` of the endorsed
/// proposal response payload of the transaction's first action.
fn transaction_result(envelope: &Envelope) -> Result<Vec<u8>, LedgerError> {
    let bad = |what: &str| malformed("Endorse", what);
    let payload = common::Payload::decode(envelope.payload.as_slice())
        .map_err(|_| bad("an undecodable envelope payload"))?;
    let transaction = protos::Transaction::decode(payload.data.as_slice())
        .map_err(|_| bad("an undecodable transaction"))?;
    let action = transaction
        .actions
        .first()
        .ok_or_else(|| bad("a transaction without actions"))?;
    let action_payload = ChaincodeActionPayload::decode(action.payload.as_slice())
        .map_err(|_| bad("an undecodable chaincode action payload"))?;
    let endorsed = action_payload
        .action
        .ok_or_else(|| bad("no endorsed action"))?;
    let response_payload =
        ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice())
            .map_err(|_| bad("an undecodable proposal response payload"))?;
    let chaincode_action = ChaincodeAction::decode(response_payload.extension.as_slice())
        .map_err(|_| bad("an undecodable chaincode action"))?;
    Ok(chaincode_action
        .response
        .map(|r| r.payload)
        .unwrap_or_default())
}

#[async_trait]
impl Ledger for FabricLedger {
    async fn submit(&self, proposal: Proposal) -> Result<Committed, LedgerError> {
        let mut conflicts = 0;
        loop {
            match self.submit_once(&proposal).await? {
                Ok(committed) => return Ok(committed),
                Err((
                    _,
                    TxValidationCode::MvccReadConflict | TxValidationCode::PhantomReadConflict,
                )) if conflicts < self.inner.config.conflict_retries => {
                    conflicts += 1;
                }
                Err((tx_id, code)) => {
                    return Err(LedgerError::NotCommitted {
                        tx_id,
                        validation_code: code.as_str_name().to_owned(),
                    });
                }
            }
        }
    }

    async fn evaluate(&self, proposal: Proposal) -> Result<Vec<u8>, LedgerError> {
        let chaincode = self.inner.config.chaincode.clone();
        let prepared = self
            .inner
            .prepare(&chaincode, &proposal.function, &proposal.args);
        self.evaluate_prepared(prepared).await
    }

    fn events(&self, from_block: u64) -> BoxStream<'static, Result<ChaincodeEvent, LedgerError>> {
        super::events::follow(self, from_block)
    }

    async fn height(&self) -> Result<u64, LedgerError> {
        super::qscc::height(self).await
    }

    async fn transactions(
        &self,
        from_block: u64,
        max_blocks: u64,
    ) -> Result<Vec<TxMeta>, LedgerError> {
        super::qscc::transactions(self, from_block, max_blocks).await
    }

    async fn transaction(&self, tx_id: &str) -> Result<Option<CommittedTx>, LedgerError> {
        super::qscc::transaction(self, tx_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_from_100_ms_and_stops_at_5_s() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(30), Duration::from_secs(5));
    }
}
