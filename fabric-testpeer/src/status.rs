//! gRPC errors as Fabric's gateway builds them (`newRpcError`): a code, a
//! message, and `gateway.ErrorDetail`s packed as `google.protobuf.Any` into a
//! `google.rpc.Status`, which grpc-go sends base64-encoded in the
//! `grpc-status-details-bin` trailer (tonic's `Status::with_details` does
//! the same with the encoded bytes).

use carechain_fabric_protos::gateway::ErrorDetail;
use carechain_fabric_protos::prost_types::Any;
use prost::Message;
use tonic::codegen::Bytes;
use tonic::{Code, Status};

/// `google.rpc.Status` (google/rpc/status.proto), which the Fabric protos do not include.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    /// The gRPC status code.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The developer-facing message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Details, each a packed message.
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

/// The type URL of a packed `gateway.ErrorDetail`.
pub const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/gateway.ErrorDetail";

/// One endorser's or orderer's error, as the gateway reports it.
pub fn error_detail(address: &str, msp_id: &str, message: &str) -> ErrorDetail {
    ErrorDetail {
        address: address.to_owned(),
        msp_id: msp_id.to_owned(),
        message: message.to_owned(),
    }
}

/// A status with `details` attached (none: a plain status, as `newRpcError`).
pub fn rpc_error(code: Code, message: impl Into<String>, details: &[ErrorDetail]) -> Status {
    let message = message.into();
    if details.is_empty() {
        return Status::new(code, message);
    }
    let packed = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: details
            .iter()
            .map(|d| Any {
                type_url: ERROR_DETAIL_TYPE_URL.to_owned(),
                value: d.encode_to_vec(),
            })
            .collect(),
    };
    Status::with_details(code, message, Bytes::from(packed.encode_to_vec()))
}

/// The `gateway.ErrorDetail`s attached to `status` (empty when none decode).
pub fn error_details(status: &Status) -> Vec<ErrorDetail> {
    RpcStatus::decode(status.details())
        .map(|s| {
            s.details
                .iter()
                .filter(|any| any.type_url == ERROR_DETAIL_TYPE_URL)
                .filter_map(|any| ErrorDetail::decode(any.value.as_slice()).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn details_round_trip_and_carry_the_code() {
        let detail = error_detail("peer0:7051", "Org1MSP", "chaincode response 404, x");
        let status = rpc_error(Code::Aborted, "failed", std::slice::from_ref(&detail));
        assert_eq!(error_details(&status), vec![detail]);
        let packed = RpcStatus::decode(status.details()).unwrap();
        assert_eq!(packed.code, Code::Aborted as i32);
        assert_eq!(packed.message, "failed");
        assert!(rpc_error(Code::Unknown, "m", &[]).details().is_empty());
    }
}
