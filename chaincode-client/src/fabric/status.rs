//! What a Gateway error means for the caller: the gRPC status a Fabric
//! gateway returns, with the `gateway.ErrorDetail`s it attaches in
//! `grpc-status-details-bin` (a `google.rpc.Status`), turned into the
//! [`LedgerError`] the embedded backend would return for the same cause.
//!
//! Fabric's gateway (`internal/pkg/gateway`, `responseStatus`) reports a
//! chaincode refusal as `"chaincode response {status}, {message}"` in the
//! error detail of the endorser that ran it (code `Unknown` from `Evaluate`,
//! `Aborted` from `Endorse`), and the contract's message is
//! `"{code}: {message}"`, so the refusal comes back as the same
//! [`LedgerError::Refused`] as in-process. Transient, so retried and then
//! answered 503: `Unavailable`, `ResourceExhausted`; an `Aborted` without a
//! chaincode response (an endorser crashed or a peer-generated 500); an
//! `Unknown` without one (tonic's code for a connection reset in the middle
//! of a call, "transport error"); and the `FailedPrecondition` the gateway
//! answers while no set of live peers satisfies the endorsement policy (for
//! 5–15 s after a peer restarts, until gossip sees it, and while an org is
//! down; `internal/pkg/gateway/registry.go`). A `Submit` or `CommitStatus`
//! still failing that way leaves the outcome unknown: it becomes a
//! [`LedgerError::Timeout`] carrying the transaction id, which may still
//! commit. `DeadlineExceeded` is a timeout; the rest (bad request, access
//! denied, unknown channel) need an operator.

use carechain_fabric_protos::gateway::ErrorDetail;
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::prost_types::Any;
use carechain_fabric_protos::tonic::{Code, Status};

use crate::LedgerError;

/// `google.rpc.Status`, the body of `grpc-status-details-bin`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    /// The gRPC code.
    #[prost(int32, tag = "1")]
    code: i32,
    /// The message.
    #[prost(string, tag = "2")]
    message: String,
    /// Typed details.
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// The `Any` type URL of a Gateway error detail.
pub const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/gateway.ErrorDetail";

/// The `gateway.ErrorDetail`s attached to `status`, in order.
pub fn error_details(status: &Status) -> Vec<ErrorDetail> {
    let Ok(rpc) = RpcStatus::decode(status.details()) else {
        return Vec::new();
    };
    rpc.details
        .iter()
        .filter(|any| any.type_url == ERROR_DETAIL_TYPE_URL)
        .filter_map(|any| ErrorDetail::decode(any.value.as_slice()).ok())
        .collect()
}

/// Encodes `details` as `grpc-status-details-bin` for a status with `code`
/// and `message`, as grpc-go's `status.WithDetails` does.
pub fn encode_details(code: Code, message: &str, details: &[ErrorDetail]) -> Vec<u8> {
    RpcStatus {
        code: code as i32,
        message: message.to_owned(),
        details: details
            .iter()
            .map(|d| Any {
                type_url: ERROR_DETAIL_TYPE_URL.to_owned(),
                value: d.encode_to_vec(),
            })
            .collect(),
    }
    .encode_to_vec()
}

/// The chaincode's refusal in `text`, from `"chaincode response {status}, {code}: {message}"`.
fn chaincode_refusal(text: &str) -> Option<LedgerError> {
    let start = text.find("chaincode response ")?;
    let rest = &text[start + "chaincode response ".len()..];
    let (status, rest) = rest.split_once(", ")?;
    let status = status.trim().parse::<u16>().ok()?;
    let (code, message) = match rest.split_once(": ") {
        Some((code, message)) if is_code(code) => (code.to_owned(), message.to_owned()),
        _ => ("chaincode_error".to_owned(), rest.to_owned()),
    };
    Some(LedgerError::Refused {
        status,
        code,
        message,
    })
}

/// Whether `s` looks like one of the contract's stable codes (`snake_case`).
fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The gateway's messages (`internal/pkg/gateway/registry.go`) for "no live
/// peers satisfy the endorsement policy now", which gossip or a restarted
/// peer resolves.
const NO_ENDORSEMENT_PLAN: &[&str] = &[
    "no combination of peers can be derived which satisfy the endorsement policy",
    "failed to select a set of endorsers that satisfy the endorsement policy due to unavailability of peers",
    "failed to find any endorsing peers for org(s)",
    "no peers available to evaluate chaincode",
];

/// Whether retrying the same call may succeed.
pub fn is_transient(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable | Code::ResourceExhausted => true,
        Code::Aborted | Code::Unknown => refusal(status).is_none(),
        Code::FailedPrecondition => NO_ENDORSEMENT_PLAN
            .iter()
            .any(|text| status.message().contains(text)),
        _ => false,
    }
}

/// Whether a failed `call` may have left the transaction to commit anyway:
/// it was already handed to ordering.
fn outcome_unknown(call: &str) -> bool {
    matches!(call, "Submit" | "CommitStatus")
}

/// The contract's refusal carried by `status`, if it is one.
fn refusal(status: &Status) -> Option<LedgerError> {
    if !matches!(status.code(), Code::Unknown | Code::Aborted) {
        return None;
    }
    error_details(status)
        .iter()
        .find_map(|d| chaincode_refusal(&d.message))
        .or_else(|| chaincode_refusal(status.message()))
}

/// The [`LedgerError`] for `status`, returned by the Gateway's `call` (e.g. `Endorse`).
pub fn to_ledger_error(call: &'static str, tx_id: Option<&str>, status: &Status) -> LedgerError {
    if let Some(refused) = refusal(status) {
        return refused;
    }
    let detail = error_details(status)
        .iter()
        .map(|d| format!("; {} ({}): {}", d.address, d.msp_id, d.message))
        .collect::<String>();
    let message = format!("{}{detail}", status.message());
    match status.code() {
        Code::DeadlineExceeded | Code::Cancelled => LedgerError::Timeout {
            during: call.to_owned(),
            tx_id: tx_id.map(str::to_owned),
        },
        _ if is_transient(status) && outcome_unknown(call) && tx_id.is_some() => {
            LedgerError::Uncertain {
                during: call.to_owned(),
                tx_id: tx_id.unwrap_or_default().to_owned(),
                reason: format!("{:?}: {message}", status.code()),
            }
        }
        _ if is_transient(status) => LedgerError::Unavailable(format!(
            "Fabric gateway {call}: {:?}: {message}",
            status.code()
        )),
        code => LedgerError::Gateway {
            call,
            code: format!("{code:?}"),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_detail(code: Code, message: &str, detail: &str) -> Status {
        let details = [ErrorDetail {
            address: "peer0.org1.example.com:7051".into(),
            msp_id: "Org1MSP".into(),
            message: detail.into(),
        }];
        Status::with_details(
            code,
            message,
            encode_details(code, message, &details).into(),
        )
    }

    #[test]
    fn an_endorsement_refused_by_the_contract_is_its_refusal() {
        let status = with_detail(
            Code::Aborted,
            "failed to endorse transaction, see attached details for more info",
            "chaincode response 409, jti_replayed: statement nonce already used",
        );
        match to_ledger_error("Endorse", None, &status) {
            LedgerError::Refused {
                status,
                code,
                message,
            } => {
                assert_eq!((status, code.as_str()), (409, "jti_replayed"));
                assert_eq!(message, "statement nonce already used");
            }
            other => panic!("expected Refused, found {other:?}"),
        }
        assert!(!is_transient(&status));
    }

    #[test]
    fn an_evaluate_refusal_is_read_from_the_message_without_details() {
        let status = Status::unknown(
            "evaluate call to endorser returned error: chaincode response 404, not_found: no policy p",
        );
        assert!(matches!(
            to_ledger_error("Evaluate", None, &status),
            LedgerError::Refused { status: 404, ref code, .. } if code == "not_found"
        ));
    }

    #[test]
    fn a_crashed_endorser_is_transient_and_a_denied_identity_is_not() {
        let crashed = with_detail(
            Code::Aborted,
            "failed to endorse",
            "chaincode stream terminated",
        );
        assert!(is_transient(&crashed));
        assert!(matches!(
            to_ledger_error("Endorse", None, &crashed),
            LedgerError::Unavailable(_)
        ));
        let denied = Status::permission_denied("access denied: creator org unknown");
        assert!(!is_transient(&denied));
        assert!(matches!(
            to_ledger_error("CommitStatus", Some("t1"), &denied),
            LedgerError::Gateway { call: "CommitStatus", ref code, .. } if code == "PermissionDenied"
        ));
        assert!(matches!(
            to_ledger_error("CommitStatus", Some("t1"), &Status::deadline_exceeded("late")),
            LedgerError::Timeout { ref tx_id, .. } if tx_id.as_deref() == Some("t1")
        ));
    }

    #[test]
    fn a_connection_reset_mid_call_is_transient_and_mid_commit_status_may_still_commit() {
        // tonic's status for a reset HTTP/2 connection.
        let reset = Status::unknown("transport error");
        assert!(is_transient(&reset));
        assert!(matches!(
            to_ledger_error("Endorse", Some("t1"), &reset),
            LedgerError::Unavailable(_)
        ));
        for call in ["Submit", "CommitStatus"] {
            match to_ledger_error(call, Some("t1"), &reset) {
                e @ LedgerError::Uncertain { .. } => {
                    assert!(e.to_string().contains("t1 may still commit"), "{e}");
                    assert!(e.to_string().contains(call), "{e}");
                }
                other => panic!("{call}: expected an unknown outcome, found {other:?}"),
            }
        }
    }

    #[test]
    fn no_endorsement_plan_is_transient_but_other_preconditions_are_not() {
        let no_plan = Status::failed_precondition(
            "no combination of peers can be derived which satisfy the endorsement policy: \
             required chaincodes are not installed on sufficient peers",
        );
        assert!(is_transient(&no_plan));
        assert!(matches!(
            to_ledger_error("Endorse", Some("t1"), &no_plan),
            LedgerError::Unavailable(_)
        ));
        let down =
            Status::failed_precondition("failed to find any endorsing peers for org(s): Org2MSP");
        assert!(is_transient(&down));
        let acl = Status::failed_precondition("access denied: channel [c] creator org unknown");
        assert!(!is_transient(&acl));
        assert!(matches!(
            to_ledger_error("Evaluate", None, &acl),
            LedgerError::Gateway { ref code, .. } if code == "FailedPrecondition"
        ));
    }
}
