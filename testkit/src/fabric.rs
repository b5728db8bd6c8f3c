//! The Fabric test peer behind a ledger (feature `fabric`): a
//! [`FabricLedger`] for a [`TestNetwork`], with the identity the network's CA
//! issued and, for TLS networks, its TLS root and server-name override.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use carechain_fabric_testpeer::{ClientIdentity, NetworkOptions, TestNetwork};
use carechain_ledger::fabric::{Deadlines, FabricConfig, FabricIdentity, FabricLedger};
use carechain_ledger::{Ledger, SystemClock};

use crate::{LedgerDriver, World};

/// The configuration a relay would have for `network` (paths unused).
pub fn config(network: &TestNetwork) -> FabricConfig {
    FabricConfig {
        peer_endpoint: network.endpoint(),
        tls_root_cert: None,
        server_name_override: Some(network.server_name().to_owned()),
        msp_id: network.msp_id().to_owned(),
        cert: PathBuf::new(),
        key: PathBuf::new(),
        channel: "mychannel".into(),
        chaincode: "carechain".into(),
        deadlines: Deadlines {
            commit_status: Duration::from_secs(20),
            ..Deadlines::default()
        },
        retries: 3,
        conflict_retries: 3,
    }
}

/// The backend for `network` as `identity`, with `config` adjusted by `edit`.
pub fn ledger_as(
    network: &TestNetwork,
    identity: &ClientIdentity,
    edit: impl FnOnce(&mut FabricConfig),
) -> FabricLedger {
    let mut config = config(network);
    edit(&mut config);
    let identity = FabricIdentity::from_pem(
        config.msp_id.clone(),
        identity.cert_pem.as_bytes(),
        &identity.key_pem,
        "test network",
    )
    .expect("the network's identity");
    let root = network.tls_root_pem().map(String::into_bytes);
    FabricLedger::with_identity(config, identity, root).expect("a Fabric ledger")
}

/// The backend for `network` as its enrolled client.
pub fn ledger(network: &TestNetwork, edit: impl FnOnce(&mut FabricConfig)) -> FabricLedger {
    ledger_as(network, &network.client_identity(), edit)
}

/// Starts a test network with default options on `rt`, and a ledger through
/// its Gateway as the enrolled client.
pub fn start(rt: &tokio::runtime::Runtime) -> (TestNetwork, Arc<dyn Ledger>) {
    let network = rt
        .block_on(TestNetwork::start(NetworkOptions::default()))
        .expect("the test network starts");
    let ledger: Arc<dyn Ledger> = Arc::new(rt.block_on(async { ledger(&network, |_| {}) }));
    (network, ledger)
}

/// A world on any `ledger` stamped by the wall clock (the Fabric test peer's clock).
pub fn world_on(ledger: Arc<dyn Ledger>, rt: &tokio::runtime::Runtime) -> World<LedgerDriver> {
    World::new(LedgerDriver::on(
        ledger,
        rt.handle().clone(),
        Arc::new(SystemClock),
    ))
}
