//! The contract's events: one per state-changing transaction, named and
//! carrying ids only (never record contents), so the relay can route them to
//! the parties' phones and sockets.
//!
//! The payload bytes are part of the ledger: the embedded ledger stores them
//! and `verify` compares them on replay, so each payload's field order is fixed.

use serde::{Deserialize, Serialize};

use crate::ids::{ActorId, ClaimId, PolicyId, ProductId, RecordId, RequestId};
use crate::statement::Role;

use super::objects::Decision;

/// Why an event could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The name is not one the contract emits.
    #[error("unknown event {0:?}")]
    UnknownName(String),
    /// The payload does not have the event's shape.
    #[error("event {name}: expected its JSON payload, found: {reason}")]
    BadPayload {
        /// The event name.
        name: &'static str,
        /// The decoding error.
        reason: String,
    },
}

/// The payload naming an identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityEvent {
    /// The identity.
    pub actor: ActorId,
    /// Its role.
    pub role: Role,
    /// Who registered or suspended it.
    pub by: ActorId,
}

/// The payload of every consent event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEvent {
    /// The access request.
    pub request: RequestId,
    /// The patient asked.
    pub patient: ActorId,
    /// The requesting doctor.
    pub doctor: ActorId,
    /// End of access (grants only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// The payload of `record_written` and `record_read`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordEvent {
    /// The record.
    pub record: RecordId,
    /// Whose record.
    pub patient: ActorId,
    /// The writer or reader.
    pub actor: ActorId,
}

/// The payload of `product_published`. (Fields in this order: the contract
/// first wrote it as a sorted JSON map.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductEvent {
    /// The insurer.
    pub insurer: ActorId,
    /// The product.
    pub product: ProductId,
}

/// The payload of policy events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEvent {
    /// The policy.
    pub policy: PolicyId,
    /// Its product.
    pub product: ProductId,
    /// The insured patient.
    pub patient: ActorId,
    /// The insurer.
    pub insurer: ActorId,
}

/// The payload of claim events: ids and the decision only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimEvent {
    /// The claim.
    pub claim: ClaimId,
    /// Its policy.
    pub policy: PolicyId,
    /// The claimant.
    pub patient: ActorId,
    /// The insurer.
    pub insurer: ActorId,
    /// The decision.
    #[serde(flatten)]
    pub decision: Decision,
}

macro_rules! events {
    ($($(#[$doc:meta])* $variant:ident($payload:ty) = $name:literal,)*) => {
        /// A contract event, by name.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Event {
            $($(#[$doc])* $variant($payload),)*
        }

        impl Event {
            /// Every event name the contract emits.
            pub const NAMES: &'static [&'static str] = &[$($name,)*];

            /// The event's name on the ledger.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Event::$variant(_) => $name,)*
                }
            }

            /// The event's JSON payload.
            pub fn payload(&self) -> Vec<u8> {
                // Serialising these plain structs cannot fail.
                match self {
                    $(Event::$variant(p) => serde_json::to_vec(p).unwrap_or_default(),)*
                }
            }

            /// Decodes an event from its name and payload.
            pub fn decode(name: &str, payload: &[u8]) -> Result<Self, EventError> {
                match name {
                    $($name => serde_json::from_slice(payload)
                        .map(Event::$variant)
                        .map_err(|e| EventError::BadPayload { name: $name, reason: e.to_string() }),)*
                    other => Err(EventError::UnknownName(other.to_owned())),
                }
            }
        }
    };
}

events! {
    /// An identity was registered.
    IdentityRegistered(IdentityEvent) = "identity_registered",
    /// An identity was suspended.
    IdentitySuspended(IdentityEvent) = "identity_suspended",
    /// A doctor asked a patient for access.
    AccessRequested(ConsentEvent) = "access_requested",
    /// The patient granted a request.
    AccessGranted(ConsentEvent) = "access_granted",
    /// The patient denied a request.
    AccessDenied(ConsentEvent) = "access_denied",
    /// The patient revoked a grant.
    AccessRevoked(ConsentEvent) = "access_revoked",
    /// A doctor wrote a record.
    RecordWritten(RecordEvent) = "record_written",
    /// Someone other than the patient read a record.
    RecordRead(RecordEvent) = "record_read",
    /// An insurer published a product.
    ProductPublished(ProductEvent) = "product_published",
    /// A patient bought a policy.
    PolicyPurchased(PolicyEvent) = "policy_purchased",
    /// The insurer issued a policy.
    PolicyIssued(PolicyEvent) = "policy_issued",
    /// The insurer declined a purchase.
    PolicyDeclined(PolicyEvent) = "policy_declined",
    /// The contract decided a claim.
    ClaimDecided(ClaimEvent) = "claim_decided",
    /// The insurer marked a claim paid.
    ClaimPaid(ClaimEvent) = "claim_paid",
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::objects::RejectionReason;

    fn actor(tag: char) -> ActorId {
        format!("cc{}", tag.to_string().repeat(40)).parse().unwrap()
    }

    #[test]
    fn payloads_keep_the_bytes_the_contract_has_always_written() {
        let product = ProductId(uuid::Uuid::nil());
        let event = Event::ProductPublished(ProductEvent {
            insurer: actor('a'),
            product,
        });
        // `json!({"product", "insurer"})` serialised as a sorted map.
        let old =
            serde_json::to_vec(&serde_json::json!({"product": product, "insurer": actor('a')}))
                .unwrap();
        assert_eq!(event.payload(), old);

        let consent = ConsentEvent {
            request: RequestId(uuid::Uuid::nil()),
            patient: actor('b'),
            doctor: actor('c'),
            expires_at: None,
        };
        let text = String::from_utf8(Event::AccessRequested(consent).payload()).unwrap();
        assert!(!text.contains("expires_at"), "{text}");
    }

    #[test]
    fn every_event_decodes_to_itself_and_unknown_names_are_refused() {
        let claim = Event::ClaimDecided(ClaimEvent {
            claim: ClaimId(uuid::Uuid::nil()),
            policy: PolicyId(uuid::Uuid::nil()),
            patient: actor('b'),
            insurer: actor('a'),
            decision: Decision::Rejected {
                reason: RejectionReason::ProofFailed,
            },
        });
        let back = Event::decode(claim.name(), &claim.payload()).unwrap();
        assert_eq!(back, claim);
        assert!(matches!(
            Event::decode("record_deleted", b"{}"),
            Err(EventError::UnknownName(_))
        ));
        assert!(matches!(
            Event::decode("claim_paid", b"{}"),
            Err(EventError::BadPayload {
                name: "claim_paid",
                ..
            })
        ));
        assert_eq!(Event::NAMES.len(), 14);
    }
}
