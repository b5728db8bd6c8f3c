//! Identifiers and byte strings shared by statements, the contract and the relay.
//!
//! Actor ids are derived from public keys (see [`crate::identity`]); object ids
//! (records, requests, products, policies, claims) are UUIDs chosen by the
//! client that creates the object, so a statement names its object before the
//! ledger has seen it and a retried submission is recognisably the same.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Errors from parsing identifiers and encoded byte strings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    /// An actor id did not have the `cc` prefix and 40 lowercase hex digits.
    #[error("expected an actor id of the form `cc` + 40 lowercase hex digits, found {found:?}")]
    MalformedActorId {
        /// The text that was given (ids are public, so echoing it is safe).
        found: String,
    },
    /// An object id was not a UUID.
    #[error("expected a {kind} id as a UUID, found {found:?}")]
    MalformedUuid {
        /// Which kind of id was expected.
        kind: &'static str,
        /// The text that was given.
        found: String,
    },
    /// A byte string was not unpadded base64url.
    #[error("expected unpadded base64url, found invalid input at character {position}")]
    MalformedBase64 {
        /// Offset of the first offending character.
        position: usize,
    },
}

/// Bytes carried in JSON as unpadded base64url (RFC 4648 §5).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct B64(pub Vec<u8>);

impl B64 {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Encodes the bytes as unpadded base64url text.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }

    /// Decodes unpadded base64url text.
    pub fn decode(text: &str) -> Result<Self, IdError> {
        URL_SAFE_NO_PAD
            .decode(text)
            .map(B64)
            .map_err(|err| IdError::MalformedBase64 {
                position: match err {
                    base64::DecodeError::InvalidByte(pos, _) => pos,
                    base64::DecodeError::InvalidLastSymbol(pos, _) => pos,
                    _ => text.len(),
                },
            })
    }
}

impl From<Vec<u8>> for B64 {
    fn from(bytes: Vec<u8>) -> Self {
        B64(bytes)
    }
}

impl fmt::Debug for B64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "B64({} bytes)", self.0.len())
    }
}

impl Serialize for B64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        B64::decode(&text).map_err(serde::de::Error::custom)
    }
}

/// Implements `Serialize`/`Deserialize` for a key type as its bytes in [`B64`]:
/// `$to` gives the bytes, `$from` parses and validates them.
macro_rules! b64_serde {
    ($ty:ty, $to:ident, $from:ident) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serde::Serialize::serialize(&$crate::ids::B64(self.$to()), serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let bytes = <$crate::ids::B64 as serde::Deserialize>::deserialize(deserializer)?;
                <$ty>::$from(bytes.as_bytes()).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use b64_serde;

/// The id of an actor (patient, doctor, insurer, admin, ledger operator):
/// `cc` followed by the first 20 bytes of SHA-256 over the SEC1-compressed
/// P-256 public key, in lowercase hex.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ActorId(String);

impl ActorId {
    /// Number of hex digits after the prefix.
    pub const HEX_LEN: usize = 40;

    /// Builds an id from the 20-byte key digest.
    pub(crate) fn from_digest(digest: &[u8; 20]) -> Self {
        ActorId(format!("cc{}", hex::encode(digest)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ActorId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let well_formed = s.len() == 2 + Self::HEX_LEN
            && s.starts_with("cc")
            && s[2..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(ActorId(s.to_owned()))
        } else {
            Err(IdError::MalformedActorId {
                found: s.chars().take(64).collect(),
            })
        }
    }
}

impl<'de> Deserialize<'de> for ActorId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorId({})", self.0)
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh random (version 4) id.
            pub fn random(rng: &mut impl rand_core::CryptoRngCore) -> Self {
                let mut bytes = [0u8; 16];
                rng.fill_bytes(&mut bytes);
                $name(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }

            /// The id as 16 bytes, for binding into associated data.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s)
                    .map($name)
                    .map_err(|_| IdError::MalformedUuid {
                        kind: $kind,
                        found: s.chars().take(64).collect(),
                    })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        #[cfg(feature = "utoipa")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                string_schema(concat!("The ", $kind, "'s id (a UUID)."), Some("uuid"), None)
            }
        }

        #[cfg(feature = "utoipa")]
        impl utoipa::ToSchema for $name {}
    };
}

uuid_id!(
    /// A medical record on the ledger.
    RecordId,
    "record"
);
uuid_id!(
    /// A doctor's access request to a patient.
    RequestId,
    "access request"
);
uuid_id!(
    /// An insurance product published by an insurer.
    ProductId,
    "product"
);
uuid_id!(
    /// An insurance policy (a purchase of a product by a patient).
    PolicyId,
    "policy"
);
uuid_id!(
    /// A claim filed by a patient under a policy.
    ClaimId,
    "claim"
);

/// A string schema for the OpenAPI document.
#[cfg(feature = "utoipa")]
fn string_schema(
    description: &str,
    format: Option<&str>,
    pattern: Option<&str>,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .format(format.map(|f| SchemaFormat::Custom(f.to_owned())))
        .pattern(pattern)
        .into()
}

#[cfg(feature = "utoipa")]
impl utoipa::PartialSchema for ActorId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(
            "An actor id: `cc` and the hex of 20 bytes of SHA-256 over the compressed P-256 key.",
            None,
            Some("^cc[0-9a-f]{40}$"),
        )
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::ToSchema for ActorId {}

#[cfg(feature = "utoipa")]
impl utoipa::PartialSchema for B64 {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        string_schema(
            "Bytes, base64url without padding.",
            None,
            Some("^[A-Za-z0-9_-]*$"),
        )
    }
}

#[cfg(feature = "utoipa")]
impl utoipa::ToSchema for B64 {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64_round_trips_and_rejects_padding_and_garbage() {
        let value = B64(vec![0xfb, 0xff, 0x00, 0x10]);
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(json, "\"-_8AEA\"");
        assert_eq!(serde_json::from_str::<B64>(&json).unwrap(), value);
        assert!(B64::decode("-_8AEA==").is_err());
        assert_eq!(
            B64::decode("ab$d"),
            Err(IdError::MalformedBase64 { position: 2 })
        );
    }

    #[test]
    fn actor_ids_are_validated() {
        let good = format!("cc{}", "0a".repeat(20));
        assert_eq!(good.parse::<ActorId>().unwrap().as_str(), good);
        for bad in [
            "",
            "cc",
            "xx0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a",
            &format!("cc{}", "0A".repeat(20)),
            &format!("cc{}", "0a".repeat(21)),
        ] {
            let err = bad.parse::<ActorId>().unwrap_err();
            assert!(matches!(err, IdError::MalformedActorId { .. }), "{bad}");
        }
        assert!(serde_json::from_str::<ActorId>("\"nope\"").is_err());
    }

    #[test]
    fn uuid_ids_parse_and_name_their_kind() {
        let id: RecordId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap();
        assert_eq!(id.to_string(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
        let err = "not-a-uuid".parse::<PolicyId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a policy id as a UUID, found \"not-a-uuid\""
        );
    }
}
