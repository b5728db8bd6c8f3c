//! The `ledger` switch: the committed fabric-samples relay config parses to
//! the Fabric backend with every field, the environment overrides the
//! choice, and a Fabric relay without `[fabric]` or with unusable identity
//! files is refused with an error naming what is missing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use carechain_api::config::{Config, LedgerKind};
use carechain_api::state::open_ledger;

fn deploy_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/fabric/relay.toml")
}

#[test]
fn the_fabric_samples_config_selects_the_fabric_gateway_of_org1() {
    let config = Config::load(Some(&deploy_config())).unwrap();
    assert_eq!(config.ledger, LedgerKind::Fabric);
    let fabric = config.fabric.unwrap();
    assert_eq!(fabric.peer_endpoint, "https://localhost:7051");
    assert_eq!(
        fabric.server_name_override.as_deref(),
        Some("peer0.org1.example.com")
    );
    assert_eq!(
        (
            fabric.msp_id.as_str(),
            fabric.channel.as_str(),
            fabric.chaincode.as_str()
        ),
        ("Org1MSP", "mychannel", "carechain")
    );
    assert!(fabric.tls_root_cert.unwrap().ends_with("tls/ca.crt"));
    assert!(fabric.key.ends_with("keystore/priv_sk"));
    assert_eq!(fabric.deadlines.endorse, Duration::from_secs(15));
    assert_eq!(fabric.deadlines.commit_status, Duration::from_secs(60));
}

#[test]
fn the_default_is_embedded_and_the_environment_switches() {
    let mut config = Config::default();
    assert_eq!(config.ledger, LedgerKind::Embedded);
    config
        .apply_env(|name| (name == "CARECHAIN_LEDGER").then(|| "fabric".to_owned()))
        .unwrap();
    assert_eq!(config.ledger, LedgerKind::Fabric);
    let err = config
        .apply_env(|name| (name == "CARECHAIN_LEDGER").then(|| "couchdb".to_owned()))
        .unwrap_err();
    assert!(err.to_string().contains("embedded or fabric"), "{err}");
}

#[test]
fn unknown_fabric_fields_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    let text = std::fs::read_to_string(deploy_config())
        .unwrap()
        .replace("channel = ", "chanel = ");
    std::fs::write(&file, text).unwrap();
    let err = Config::load(Some(&file)).unwrap_err().to_string();
    assert!(err.contains("chanel"), "{err}");
}

#[actix_web::test]
async fn a_fabric_relay_needs_its_table_and_readable_identity_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        ledger: LedgerKind::Fabric,
        ..Config::default()
    };
    let err = open_ledger(&config).err().unwrap().to_string();
    assert!(err.contains("[fabric]"), "{err}");
    // The sample's paths are relative to fabric-samples/test-network.
    config.fabric = Config::load(Some(&deploy_config())).unwrap().fabric;
    let err = open_ledger(&config).err().unwrap().to_string();
    assert!(err.contains("cannot read the certificate"), "{err}");
    assert!(err.contains("User1@org1.example.com-cert.pem"), "{err}");
}
