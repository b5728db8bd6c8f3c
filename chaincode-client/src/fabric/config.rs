//! Where the relay finds its Fabric Gateway peer and who it is there: the
//! peer endpoint, TLS root and server-name override, the MSP identity's
//! files, the channel and chaincode, and the deadlines and retry budget of
//! each Gateway call. Deserialized from the `[fabric]` table of the relay's
//! configuration.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The Fabric backend's settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FabricConfig {
    /// The Gateway peer, `https://host:port` (TLS) or `http://host:port`.
    pub peer_endpoint: String,
    /// PEM file of the CA that issued the peer's TLS certificate; required for `https`.
    #[serde(default)]
    pub tls_root_cert: Option<PathBuf>,
    /// The name the peer's TLS certificate is checked against when it differs
    /// from the endpoint's host (e.g. `peer0.org1.example.com` at `localhost`).
    #[serde(default)]
    pub server_name_override: Option<String>,
    /// The relay's MSP id, e.g. `Org1MSP`.
    pub msp_id: String,
    /// PEM file of the relay's X.509 certificate.
    pub cert: PathBuf,
    /// PEM file of the relay's P-256 private key (PKCS#8).
    pub key: PathBuf,
    /// The channel, e.g. `mychannel`.
    pub channel: String,
    /// The chaincode name, e.g. `carechain`.
    pub chaincode: String,
    /// Deadlines of the Gateway calls.
    #[serde(default)]
    pub deadlines: Deadlines,
    /// How often a transient failure is retried before it is returned.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// How often a transaction invalidated by a read conflict
    /// (`MVCC_READ_CONFLICT`, `PHANTOM_READ_CONFLICT`) is run again from a
    /// fresh proposal before [`NotCommitted`](crate::LedgerError::NotCommitted)
    /// is returned; the embedded backend re-executes such transactions too.
    #[serde(default = "default_retries")]
    pub conflict_retries: u32,
}

fn default_retries() -> u32 {
    3
}

/// Deadlines of the Gateway calls, in milliseconds in the configuration file.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Deadlines {
    /// Establishing the connection.
    #[serde(with = "millis")]
    pub connect: Duration,
    /// `Evaluate`.
    #[serde(with = "millis")]
    pub evaluate: Duration,
    /// `Endorse`.
    #[serde(with = "millis")]
    pub endorse: Duration,
    /// `Submit`.
    #[serde(with = "millis")]
    pub submit: Duration,
    /// `CommitStatus`: waiting for the block holding the transaction.
    #[serde(with = "millis")]
    pub commit_status: Duration,
}

impl Default for Deadlines {
    /// The official Gateway clients' defaults (5 s evaluate, 15 s endorse,
    /// 5 s submit, 1 min commit status), with a 5 s connect.
    fn default() -> Self {
        Deadlines {
            connect: Duration::from_secs(5),
            evaluate: Duration::from_secs(5),
            endorse: Duration::from_secs(15),
            submit: Duration::from_secs(5),
            commit_status: Duration::from_secs(60),
        }
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
