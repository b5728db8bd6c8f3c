//! Compiles the vendored Fabric protos with protox and writes the prost
//! messages and tonic client/server code into `../src/gen`.

use std::path::PathBuf;

/// The vendored proto files the crate exposes (their imports come along).
const PROTOS: &[&str] = &[
    "gateway/gateway.proto",
    "peer/chaincode_shim.proto",
    "peer/proposal.proto",
    "peer/proposal_response.proto",
    "peer/transaction.proto",
    "peer/chaincode_event.proto",
    "common/common.proto",
    "common/ledger.proto",
    "msp/identities.proto",
    "orderer/ab.proto",
    "ledger/queryresult/kv_query_result.proto",
    "ledger/rwset/rwset.proto",
    "ledger/rwset/kvrwset/kv_rwset.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let protos = root.join("protos");
    let out = root.join("src").join("gen");
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| protos.join(p)).collect();
    let descriptors = protox::compile(&files, [&protos])?;
    std::fs::create_dir_all(&out)?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(false)
        .emit_rerun_if_changed(false)
        .out_dir(&out)
        .compile_fds(descriptors)?;
    Ok(())
}
