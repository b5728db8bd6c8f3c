//! `carechain-chaincode`: the CareChain contract as a Fabric chaincode
//! service. Configured by the environment (`CHAINCODE_SERVER_ADDRESS`,
//! `CORE_CHAINCODE_ID_NAME`, optional `CHAINCODE_TLS_CERT`/`CHAINCODE_TLS_KEY`/
//! `CHAINCODE_CLIENT_CA_CERT`); stops gracefully on SIGTERM (what container
//! runtimes and systemd send) and on Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;

use carechain_chaincode::CareChain;
use carechain_chaincode::ccaas::{ServerConfig, serve};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match ServerConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("carechain-chaincode: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "carechain-chaincode: serving {} on {} ({})",
        config.chaincode_id,
        config.address,
        if config.tls.is_some() {
            "TLS"
        } else {
            "plaintext"
        }
    );
    let shutdown = async {
        stop_signal().await;
        eprintln!("carechain-chaincode: stopping; finishing the calls in progress");
    };
    match serve(&config, Arc::new(CareChain), shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carechain-chaincode: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on the first SIGTERM or Ctrl-C (SIGINT).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                return;
            }
            Err(e) => eprintln!("carechain-chaincode: cannot watch SIGTERM ({e}); Ctrl-C only"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
