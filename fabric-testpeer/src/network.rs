//! The test network: PKI, the in-process chaincode server, the peer and its
//! gateway server, which can be stopped and restarted on the same port.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use carechain_chaincode::CareChain;
use carechain_chaincode::ccaas::{ServerConfig, serve_on};
use carechain_fabric_protos::gateway::gateway_server::GatewayServer;
use carechain_fabric_protos::prost_types::Timestamp;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::chaincode::{ChaincodeHandler, ConnectError};
use crate::gateway::GatewayService;
use crate::ledger::Ledger;
use crate::peer::Peer;
use crate::pki::{Authority, Enrolment, IdentityError, Msp, PkiError};

const ORG: &str = "org1.example.com";
const MSP_ID: &str = "Org1MSP";
const SERVER_NAME: &str = "peer0.org1.example.com";
const PACKAGE_ID: &str = "carechain_1.0:4f6d8d1b3c2a0e9f";
/// Fabric's default gRPC message limit (100 MiB).
const MAX_MESSAGE: usize = 100 * 1024 * 1024;

/// Why the test network could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum TestPeerError {
    /// A certificate could not be generated.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The generated CA certificate could not be read back.
    #[error("cannot read the generated CA certificate: {0}")]
    Msp(#[from] IdentityError),
    /// A listening socket could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The peer could not connect to the chaincode server.
    #[error(transparent)]
    Chaincode(#[from] ConnectError),
    /// The gateway's TLS configuration was refused.
    #[error("cannot configure the gateway's TLS: {0}")]
    Tls(#[from] tonic::transport::Error),
}

/// How to build the network.
#[derive(Clone, Debug)]
pub struct NetworkOptions {
    /// Serve the gateway over TLS (server certificate for `peer0.org1.example.com`).
    pub tls: bool,
    /// The channel name.
    pub channel: String,
    /// The chaincode name the contract is deployed as.
    pub chaincode: String,
    /// A delay before each proposal is processed.
    pub endorse_delay: Option<Duration>,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        Self {
            tls: false,
            channel: "mychannel".into(),
            chaincode: "carechain".into(),
            endorse_delay: None,
        }
    }
}

/// A client's enrolment: certificate and PKCS#8 P-256 key, both PEM.
#[derive(Clone)]
pub struct ClientIdentity {
    /// The X.509 certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::pki::fmt_redacted(f, "ClientIdentity", &self.cert_pem)
    }
}

impl From<&Enrolment> for ClientIdentity {
    fn from(e: &Enrolment) -> Self {
        Self {
            cert_pem: e.cert_pem.clone(),
            key_pem: e.key_pem.clone(),
        }
    }
}

/// An injected endorsement failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The call fails with gRPC `Unavailable` before reaching the endorser (not logged).
    Unavailable,
    /// The endorser answers a peer-generated 500 without payload (gateway: `Aborted`).
    PeerError,
    /// The endorser hangs for the gateway's endorsement timeout (30 s), past a client's deadline.
    Timeout,
    /// The gateway finds no live peers that satisfy the endorsement policy, as
    /// for 5–15 s after a peer restarts (until gossip sees it) or while an org
    /// is down: `FailedPrecondition` from `registry.endorsementPlan`.
    NoEndorsementPlan,
}

struct Serving {
    stop: watch::Sender<bool>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// An Org1 peer with its gateway, orderer and the CareChain chaincode.
pub struct TestNetwork {
    peer: Arc<Peer>,
    port: u16,
    tls: Option<(String, String, String)>,
    client: ClientIdentity,
    serving: Option<Serving>,
    chaincode_server: JoinHandle<()>,
    committer: JoinHandle<()>,
}

impl std::fmt::Debug for TestNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNetwork")
            .field("endpoint", &self.endpoint())
            .field("height", &self.height())
            .finish()
    }
}

async fn bind(address: &str) -> Result<TcpListener, TestPeerError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| TestPeerError::Bind {
            address: address.to_owned(),
            source,
        })
}

/// The system clock's time, as the protos carry it.
fn now() -> Timestamp {
    let now = carechain_chaincode::Timestamp::now();
    Timestamp {
        seconds: now.seconds,
        nanos: now.nanos,
    }
}

impl TestNetwork {
    /// Starts the CCaaS chaincode server (the real one, in-process, on
    /// 127.0.0.1:0) and the peer's Gateway on 127.0.0.1:0.
    pub async fn start(options: NetworkOptions) -> Result<TestNetwork, TestPeerError> {
        let ca = Authority::new("ca.org1.example.com", ORG)?;
        let peer_identity = ca.issue(SERVER_NAME, ORG, "peer", &[SERVER_NAME])?;
        let client = ca.issue("User1@org1.example.com", ORG, "client", &[])?;
        let msp = Msp::new(MSP_ID, &ca.cert_pem)?;
        let tls = if options.tls {
            let tls_ca = Authority::new("tlsca.org1.example.com", ORG)?;
            let cert = tls_ca.issue(SERVER_NAME, ORG, "", &[SERVER_NAME, "peer0"])?;
            Some((
                tls_ca.cert_pem.clone(),
                cert.cert_pem.clone(),
                cert.key_pem.clone(),
            ))
        } else {
            None
        };

        let cc_listener = bind("127.0.0.1:0").await?;
        let cc_address: SocketAddr =
            cc_listener
                .local_addr()
                .map_err(|source| TestPeerError::Bind {
                    address: "127.0.0.1:0".into(),
                    source,
                })?;
        let config = ServerConfig {
            address: cc_address,
            chaincode_id: PACKAGE_ID.to_owned(),
            tls: None,
        };
        let chaincode_server = tokio::spawn(async move {
            let _ = serve_on(
                cc_listener,
                &config,
                Arc::new(CareChain),
                std::future::pending(),
            )
            .await;
        });
        let handler = ChaincodeHandler::connect(cc_address, PACKAGE_ID).await?;

        let listener = bind("127.0.0.1:0").await?;
        let port = listener
            .local_addr()
            .map_err(|source| TestPeerError::Bind {
                address: "127.0.0.1:0".into(),
                source,
            })?
            .port();
        let ledger = Ledger::new(&options.channel, now());
        let (height, _) = watch::channel(ledger.height());
        let (orderer, queue) = mpsc::unbounded_channel();
        let peer = Arc::new(Peer {
            channel: options.channel,
            chaincode: options.chaincode,
            msp,
            identity: peer_identity,
            address: format!("{SERVER_NAME}:{port}"),
            ledger: Mutex::new(ledger),
            height,
            handler,
            failures: Mutex::new(VecDeque::new()),
            received: Mutex::new(Vec::new()),
            endorse_delay: options.endorse_delay,
            orderer,
        });
        let committer = tokio::spawn(Peer::commit_loop(Arc::downgrade(&peer), queue));
        let mut network = TestNetwork {
            peer,
            port,
            tls,
            client: ClientIdentity::from(&client),
            serving: None,
            chaincode_server,
            committer,
        };
        network.serve(listener)?;
        Ok(network)
    }

    fn serve(&mut self, listener: TcpListener) -> Result<(), TestPeerError> {
        let mut builder = Server::builder();
        if let Some((_, cert, key)) = &self.tls {
            let config = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
            builder = builder.tls_config(config)?;
        }
        let (stop, stopping) = watch::channel(false);
        let (shutdown, signal) = oneshot::channel::<()>();
        let service = GatewayServer::new(GatewayService {
            peer: Arc::clone(&self.peer),
            stopping,
        })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
        let task = tokio::spawn(async move {
            // Go's net package (the real peer's gRPC) sets TCP_NODELAY on
            // every connection; without it each answer waits for the
            // client's delayed ACK (≈ 40 ms a call).
            let incoming = carechain_chaincode::ccaas::incoming(listener);
            let _ = builder
                .serve_with_incoming_shutdown(service, incoming, async {
                    let _ = signal.await;
                })
                .await;
        });
        self.serving = Some(Serving {
            stop,
            shutdown: Some(shutdown),
            task,
        });
        Ok(())
    }

    /// The gateway's URL: `http://127.0.0.1:PORT`, or `https://…` with TLS.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The CA that issued the gateway's TLS certificate (for `peer0.org1.example.com`,
    /// not 127.0.0.1: clients must override the server name), when TLS is on.
    pub fn tls_root_pem(&self) -> Option<String> {
        self.tls.as_ref().map(|(ca, _, _)| ca.clone())
    }

    /// The peer's TLS server name, `peer0.org1.example.com`.
    pub fn server_name(&self) -> &str {
        SERVER_NAME
    }

    /// The peer's MSP id, `Org1MSP`.
    pub fn msp_id(&self) -> &str {
        &self.peer.msp.id
    }

    /// A client identity (`User1@org1.example.com`, Node OU `client`) issued by the Org1 CA.
    pub fn client_identity(&self) -> ClientIdentity {
        self.client.clone()
    }

    /// A self-signed identity from a CA no MSP of the channel knows: refused.
    pub fn foreign_identity() -> ClientIdentity {
        match Authority::self_signed("Mallory@evil.example.com", "evil.example.com") {
            Ok(e) => ClientIdentity::from(&e),
            // rcgen with a fresh P-256 key cannot fail on these fixed names.
            Err(e) => panic!("cannot make the foreign identity: {e}"),
        }
    }

    /// Stops serving the gateway (open connections and streams end) but keeps the ledger.
    pub async fn stop_gateway(&mut self) {
        let Some(mut serving) = self.serving.take() else {
            return;
        };
        serving.stop.send_replace(true);
        if let Some(shutdown) = serving.shutdown.take() {
            let _ = shutdown.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut serving.task)
            .await
            .is_err()
        {
            serving.task.abort();
        }
    }

    /// Serves the gateway again on the same port, with the same ledger.
    pub async fn restart_gateway(&mut self) -> Result<(), TestPeerError> {
        self.stop_gateway().await;
        let listener = bind(&format!("127.0.0.1:{}", self.port)).await?;
        self.serve(listener)
    }

    /// Stops the chaincode server abruptly, as a crashed chaincode process: the
    /// peer's connection to it ends, and every proposal is answered with the
    /// peer's 500 "chaincode stream terminated" (gateway: `Aborted`). The
    /// peer itself, its gateway and ledger keep answering (e.g. the height).
    pub fn stop_chaincode(&self) {
        self.peer.handler.terminate();
        self.chaincode_server.abort();
    }

    /// Makes the next `n` proposals (Evaluate or Endorse) fail with `failure`.
    pub fn fail_next_endorsements(&self, n: usize, failure: Failure) {
        self.peer
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(std::iter::repeat_n(failure, n));
    }

    /// The ledger height (blocks committed, genesis included).
    pub fn height(&self) -> u64 {
        self.peer.ledger().height()
    }

    /// The requests that reached the peer, decoded, e.g. `Endorse tx=<id> fn=submit`.
    pub fn received(&self) -> Vec<String> {
        self.peer
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.stop.send_replace(true);
            serving.task.abort();
        }
        self.committer.abort();
        self.chaincode_server.abort();
    }
}
