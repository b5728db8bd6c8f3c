//! A [`FabricLedger`] for a [`TestNetwork`], with the identity the network's
//! CA issued and, for TLS networks, its TLS root and server-name override.

use std::path::PathBuf;
use std::time::Duration;

use carechain_fabric_testpeer::{ClientIdentity, TestNetwork};
use carechain_ledger::fabric::{Deadlines, FabricConfig, FabricIdentity, FabricLedger};

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
    .unwrap();
    let root = network.tls_root_pem().map(String::into_bytes);
    FabricLedger::with_identity(config, identity, root).unwrap()
}

/// The backend for `network` as its enrolled client.
pub fn ledger(network: &TestNetwork, edit: impl FnOnce(&mut FabricConfig)) -> FabricLedger {
    ledger_as(network, &network.client_identity(), edit)
}
