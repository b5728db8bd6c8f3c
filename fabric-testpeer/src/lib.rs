//! A test-only Hyperledger Fabric peer: one Org1 peer with its gateway, an
//! embedded single-node orderer and committer, and the real CareChain
//! contract served in-process as chaincode-as-a-service, so the relay's
//! Fabric Gateway client can be tested without a Fabric network.
//!
//! It follows the protocol, not a test harness: requests are the real
//! `gateway.Gateway` protos, decoded and checked as a Fabric 2.5/3.x peer
//! does (proposal unpacking, tx id = hex(SHA-256(nonce ‖ creator)), creator
//! certificate issued by the Org1 CA, low-S ECDSA signatures), the contract
//! runs over the chaincode protocol with a recorded read-write set, endorsed
//! transactions are validated at commit (MVCC, duplicate ids, endorsement
//! policy), and answers carry Fabric's gRPC codes, messages and
//! `gateway.ErrorDetail`s.
//!
//! Choices a real network makes by configuration:
//!
//! - Channel `mychannel` (configurable), one org `Org1MSP` with Node OUs; the
//!   endorsement policy is one valid endorsement by an `Org1MSP.peer`; the
//!   channel readers and writers are Org1 members.
//! - Block 0 is a genesis block with one `CONFIG` envelope (empty config);
//!   each submitted transaction is ordered into a block of its own, from
//!   block 1 on. Block metadata has Fabric's five slots, only
//!   `TRANSACTIONS_FILTER` (index 2) filled; blocks are not orderer-signed.
//! - The read-write set holds the contract's namespace only (no `_lifecycle`
//!   read of the definition), and chaincode version is `1.0`.
//!
//! | call | failure | code | message |
//! |---|---|---|---|
//! | Evaluate | undecodable proposal | `InvalidArgument` | `failed to unpack transaction proposal: …` |
//! | Evaluate | other channel or chaincode | `FailedPrecondition` | `no peers available to evaluate chaincode C in channel CH` |
//! | Evaluate | refused by the endorser (bad signature, unknown CA, tx id) | `FailedPrecondition` | `evaluate call to endorser returned error: error validating proposal: access denied: …` + detail |
//! | Evaluate | contract refusal | `Unknown` | `evaluate call to endorser returned error: chaincode response 404, not_found: …` + detail |
//! | Evaluate | peer error (500, no payload) | `Aborted` | `failed to evaluate transaction, see attached details for more info` + detail |
//! | Endorse | no proposal / undecodable | `InvalidArgument` | `the proposed transaction must contain a signed proposal` / the decode error |
//! | Endorse | other channel or chaincode | `FailedPrecondition` | `No metadata was found for chaincode C in channel CH` |
//! | Endorse | any endorser failure | `Aborted` | `failed to endorse transaction, see attached details for more info` + detail |
//! | Submit | no envelope / unsigned | `InvalidArgument` | `a prepared transaction is required` / `prepared transaction must be signed` |
//! | Submit | not a writer's signature | `Aborted` | `received unsuccessful response from orderer: status=FORBIDDEN, info=…` |
//! | Submit | other channel | `FailedPrecondition` | `channel CH not found` |
//! | CommitStatus, ChaincodeEvents | bad request signature or identity | `PermissionDenied` | `failed evaluating policy on signed data …` |
//! | Evaluate / Endorse / CommitStatus | caller's deadline passes | `DeadlineExceeded` | `evaluate timeout expired` / `endorsement timeout expired while collecting first endorsement` / `context deadline exceeded` |
//!
//! Commit-time validation codes (in `CommitStatus` and the block's
//! `TRANSACTIONS_FILTER`): `VALID`, `MVCC_READ_CONFLICT`,
//! `PHANTOM_READ_CONFLICT`, `DUPLICATE_TXID`, `ENDORSEMENT_POLICY_FAILURE`,
//! `BAD_CREATOR_SIGNATURE`, `BAD_PROPOSAL_TXID`, `INVALID_ENDORSER_TRANSACTION`,
//! `INVALID_CHAINCODE`, `BAD_RWSET`, `BAD_PAYLOAD`, `BAD_COMMON_HEADER`.
//!
//! Details are `gateway.ErrorDetail{address, msp_id, message}` packed in a
//! `google.rpc.Status` (see [`status`]). Injected failures
//! ([`TestNetwork::fail_next_endorsements`]) apply to the next proposals,
//! Evaluate or Endorse alike.

pub mod pki;
pub mod status;

mod chaincode;
mod gateway;
mod ledger;
mod network;
mod peer;
mod proposal;
mod validate;

pub use chaincode::ConnectError;
pub use ledger::{block_data_hash, block_header_hash};
pub use network::{ClientIdentity, Failure, NetworkOptions, TestNetwork, TestPeerError};
pub use proposal::compute_tx_id;
