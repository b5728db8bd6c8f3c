//! Chaincode as a service: the contract served to Fabric peers over the
//! chaincode protocol (`protos.Chaincode/Connect`), as the Go shim's
//! `ChaincodeServer` serves it. The peer dials this server (the package's
//! `connection.json` names its address), and each `Connect` stream is one
//! peer conversation ([`session`]); the contract's stub calls become messages
//! to the peer ([`peer_stub`]).
//!
//! Configuration comes from the environment, with the names the official
//! shims and the fabric-samples CCaaS examples use ([`ServerConfig::from_env`]).
//! Behind the `ccaas` feature, so the contract library itself stays free of
//! I/O.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use carechain_fabric_protos::protos::ChaincodeMessage;
use carechain_fabric_protos::protos::chaincode_server::{
    Chaincode as ChaincodeService, ChaincodeServer,
};
use carechain_fabric_protos::tonic::transport::server::TcpIncoming;
use carechain_fabric_protos::tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use carechain_fabric_protos::tonic::{self, Request, Response, Status, Streaming};
use futures::Stream;
use tokio::net::TcpListener;

use crate::stub::Chaincode;

pub mod peer_stub;
mod session;

pub use peer_stub::EMPTY_VALUE;

/// Why the chaincode server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A required environment variable is missing or empty.
    #[error("expected the environment variable {0} to be set, found it unset or empty")]
    MissingVar(&'static str),
    /// A variable holds a value of the wrong form.
    #[error("{var}: expected {expected}, found {found:?}")]
    BadVar {
        /// The variable.
        var: &'static str,
        /// What it must hold.
        expected: &'static str,
        /// What it held.
        found: String,
    },
    /// A TLS file could not be read.
    #[error("cannot read {what} from {}: {source}", path.display())]
    ReadFile {
        /// Which file (certificate, key, client CA).
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The gRPC server failed (bind, TLS set-up, transport).
    #[error("chaincode server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// TLS of the chaincode server: its certificate and key (PEM), and the CA
/// that peer client certificates must chain to, when client auth is required.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// Server certificate chain, PEM (`CHAINCODE_TLS_CERT`).
    pub cert: PathBuf,
    /// Server private key, PEM (`CHAINCODE_TLS_KEY`).
    pub key: PathBuf,
    /// CA of the peers' client certificates, PEM (`CHAINCODE_CLIENT_CA_CERT`).
    pub client_ca: Option<PathBuf>,
}

/// Where and as what the chaincode server listens.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The listen address (`CHAINCODE_SERVER_ADDRESS`, e.g. `0.0.0.0:9999`).
    pub address: SocketAddr,
    /// The package id the peer installed (`CORE_CHAINCODE_ID_NAME`, or
    /// `CHAINCODE_ID` as in the fabric-samples), e.g. `carechain_1.0:ab12…`.
    pub chaincode_id: String,
    /// TLS, or `None` for plaintext.
    pub tls: Option<TlsFiles>,
}

impl ServerConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ServerError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, in tests a map).
    ///
    /// TLS is on when `CHAINCODE_TLS_CERT` and `CHAINCODE_TLS_KEY` are set,
    /// unless `CHAINCODE_TLS_DISABLED=true`; `CHAINCODE_CLIENT_CA_CERT`
    /// additionally requires peers to present a client certificate.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ServerError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let raw = get("CHAINCODE_SERVER_ADDRESS")
            .ok_or(ServerError::MissingVar("CHAINCODE_SERVER_ADDRESS"))?;
        let address = raw.trim().parse().map_err(|_| ServerError::BadVar {
            var: "CHAINCODE_SERVER_ADDRESS",
            expected: "host:port with a numeric IP, e.g. 0.0.0.0:9999",
            found: raw.clone(),
        })?;
        let chaincode_id = get("CORE_CHAINCODE_ID_NAME")
            .or_else(|| get("CHAINCODE_ID"))
            .ok_or(ServerError::MissingVar("CORE_CHAINCODE_ID_NAME"))?;
        let disabled = match get("CHAINCODE_TLS_DISABLED").as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ServerError::BadVar {
                    var: "CHAINCODE_TLS_DISABLED",
                    expected: "true or false",
                    found: other.to_owned(),
                });
            }
        };
        let tls = match (get("CHAINCODE_TLS_CERT"), get("CHAINCODE_TLS_KEY")) {
            _ if disabled => None,
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
                client_ca: get("CHAINCODE_CLIENT_CA_CERT").map(PathBuf::from),
            }),
            (None, None) => None,
            (None, Some(_)) => return Err(ServerError::MissingVar("CHAINCODE_TLS_CERT")),
            (Some(_), None) => return Err(ServerError::MissingVar("CHAINCODE_TLS_KEY")),
        };
        Ok(Self {
            address,
            chaincode_id: chaincode_id.trim().to_owned(),
            tls,
        })
    }
}

/// The `protos.Chaincode` gRPC service over a contract.
pub struct ChaincodeAsService {
    chaincode_id: String,
    chaincode: Arc<dyn Chaincode>,
}

impl ChaincodeAsService {
    /// Serves `chaincode` as package `chaincode_id`.
    pub fn new(chaincode_id: impl Into<String>, chaincode: Arc<dyn Chaincode>) -> Self {
        Self {
            chaincode_id: chaincode_id.into(),
            chaincode,
        }
    }

    /// The tonic service, to mount on a server.
    pub fn into_service(self) -> ChaincodeServer<Self> {
        ChaincodeServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
}

/// Fabric's default gRPC message limit (100 MiB), as the Go shim sets it.
const MAX_MESSAGE: usize = 100 * 1024 * 1024;

type MessageStream = Pin<Box<dyn Stream<Item = Result<ChaincodeMessage, Status>> + Send>>;

#[tonic::async_trait]
impl ChaincodeService for ChaincodeAsService {
    type ConnectStream = MessageStream;

    async fn connect(
        &self,
        request: Request<Streaming<ChaincodeMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let (out, outgoing) = tokio::sync::mpsc::unbounded_channel();
        // The shim speaks first: REGISTER with the package id.
        let _ = out.send(Ok(session::register(&self.chaincode_id)));
        tokio::spawn(session::run(
            request.into_inner(),
            out,
            Arc::clone(&self.chaincode),
        ));
        let stream = futures::stream::unfold(outgoing, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

fn read(what: &'static str, path: &PathBuf) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|source| ServerError::ReadFile {
        what,
        path: path.clone(),
        source,
    })
}

/// Serves `chaincode` as configured until `shutdown` completes.
pub async fn serve(
    config: &ServerConfig,
    chaincode: Arc<dyn Chaincode>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let listener = TcpListener::bind(config.address)
        .await
        .map_err(|source| ServerError::Bind {
            address: config.address,
            source,
        })?;
    serve_on(listener, config, chaincode, shutdown).await
}

/// Serves `chaincode` on an already bound `listener` (its address overrides
/// `config.address`) until `shutdown` completes.
pub async fn serve_on(
    listener: TcpListener,
    config: &ServerConfig,
    chaincode: Arc<dyn Chaincode>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    // Keepalive as the Go shim's server defaults: ping after 1 min idle, 20 s timeout.
    let mut builder = Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)));
    if let Some(tls) = &config.tls {
        let identity = Identity::from_pem(
            read("the TLS certificate", &tls.cert)?,
            read("the TLS key", &tls.key)?,
        );
        let mut tls_config = ServerTlsConfig::new().identity(identity);
        if let Some(ca) = &tls.client_ca {
            tls_config =
                tls_config.client_ca_root(Certificate::from_pem(read("the client CA", ca)?));
        }
        builder = builder.tls_config(tls_config)?;
    }
    let service = ChaincodeAsService::new(config.chaincode_id.clone(), chaincode).into_service();
    builder
        .serve_with_incoming_shutdown(service, incoming(listener), shutdown)
        .await?;
    Ok(())
}

/// TCP keepalive probes on accepted peer connections after this long idle.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// The accepted connections of `listener`, with `TCP_NODELAY` and TCP keepalive set.
///
/// `Server::tcp_nodelay` applies only to servers that bind their own address;
/// an incoming stream made from a listener keeps the kernel's defaults, and
/// with Nagle on, each small message to the peer waits for the peer's delayed
/// ACK (measured on Fabric 3.1.5: 46 ms for a one-key query instead of 3 ms).
pub fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(TCP_KEEPALIVE))
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;

    use super::*;

    #[tokio::test]
    async fn accepted_peer_connections_have_nodelay_and_keepalive() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut accepted = incoming(listener);
        let _client = tokio::net::TcpStream::connect(address).await.unwrap();
        let socket = accepted.next().await.unwrap().unwrap();
        assert!(socket.nodelay().unwrap(), "TCP_NODELAY is off");
        assert!(
            socket2::SockRef::from(&socket).keepalive().unwrap(),
            "SO_KEEPALIVE is off"
        );
    }
}
