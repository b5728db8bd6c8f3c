//! Signed statements: every ledger action is a compact JWS (RFC 7515) signed
//! with ES256 by the acting identity.
//!
//! A statement's claims are `iss` (the signer's [`ActorId`]), `aud` (the
//! ledger it is meant for), `jti` (a one-time nonce), `iat` and `exp` (Unix
//! seconds) and `act`, the typed [`Action`]. The protected header is pinned to
//! `{"alg":"ES256","typ":"carechain-statement+jwt"}` (explicit typing, RFC 8725
//! §3.11); any other algorithm — `none`, `HS256`, `ES384`, … — is refused
//! before the signature is looked at.
//!
//! Verification here covers what needs no ledger state: signature, algorithm,
//! type, issuer ↔ key, audience and the time window. Under
//! [`JwsRules::Strict`] ([`Statement::verify_strict`]) it also refuses
//! high-S signatures and any `crit` header (see `strict.rs`); statements this
//! crate signs are always low-S. [`Statement::verify`] keeps the acceptance
//! ledgers before storage rules 3 were written under, so their chains
//! replay; the contract verifies strictly from rules 3. Whether the issuer is
//! registered and active and whether the `jti` was used before are the
//! contract's checks.

mod action;
pub(crate) mod strict;
mod treatment;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};

pub use self::action::*;
pub use self::strict::JwsRules;
pub use self::treatment::*;
use crate::identity::{SigningKey, VerifyingKey};
use crate::ids::ActorId;

/// The JOSE `typ` every statement carries.
pub const STATEMENT_TYPE: &str = "carechain-statement+jwt";

/// Longest accepted `jti`, in characters.
const MAX_JTI_LEN: usize = 64;
/// Shortest accepted `jti`, in characters (16 random bytes in base64url is 22).
const MIN_JTI_LEN: usize = 16;

/// Why a statement was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatementError {
    /// The token is not three base64url parts with JSON header and claims of the right shape.
    #[error("malformed statement: {reason}")]
    Malformed {
        /// What was wrong with it.
        reason: String,
    },
    /// The header named an algorithm other than ES256.
    #[error("expected alg ES256, found {found:?}")]
    WrongAlgorithm {
        /// The `alg` in the header.
        found: String,
    },
    /// The header's `typ` was not [`STATEMENT_TYPE`].
    #[error("expected typ {STATEMENT_TYPE:?}, found {found:?}")]
    WrongType {
        /// The `typ` in the header (empty if absent).
        found: String,
    },
    /// The signature does not verify under the key given.
    #[error("the signature does not verify under the signer's key")]
    BadSignature,
    /// The `iss` claim does not name the key's owner.
    #[error("expected iss {expected}, found {found}")]
    IssuerMismatch {
        /// The actor id of the verifying key.
        expected: ActorId,
        /// The `iss` in the claims.
        found: ActorId,
    },
    /// The `aud` claim names another ledger.
    #[error("expected aud {expected:?}, found {found:?}")]
    WrongAudience {
        /// This ledger's audience.
        expected: String,
        /// The `aud` in the claims.
        found: String,
    },
    /// `exp` is not after `now`.
    #[error("statement expired at {exp}, now is {now}")]
    Expired {
        /// The `exp` claim.
        exp: i64,
        /// The verification time.
        now: i64,
    },
    /// `iat` is further in the future than the allowed clock skew.
    #[error("statement issued at {iat}, later than now ({now}) plus {skew} s of allowed skew")]
    IssuedInFuture {
        /// The `iat` claim.
        iat: i64,
        /// The verification time.
        now: i64,
        /// The allowed skew.
        skew: i64,
    },
    /// `exp − iat` is not in `(0, max_lifetime]`.
    #[error("expected a lifetime (exp − iat) in 1..={max} s, found {found} s")]
    BadLifetime {
        /// The statement's lifetime.
        found: i64,
        /// The longest allowed.
        max: i64,
    },
    /// The `jti` is not 16–64 base64url characters.
    #[error(
        "expected a jti of {MIN_JTI_LEN}..={MAX_JTI_LEN} base64url characters, found {found:?}"
    )]
    BadNonce {
        /// The `jti` (truncated).
        found: String,
    },
    /// The signature is the high-S twin (s > n/2) of a valid one; refused under [`JwsRules::Strict`].
    #[error("expected a low-S ECDSA signature (s <= n/2), found a high-S one")]
    HighS,
    /// The header has a `crit` parameter; no extension is understood, so it is refused.
    #[error("expected no crit header parameter (no extension is understood), found crit {found}")]
    UnknownCritical {
        /// The `crit` value (truncated JSON).
        found: String,
    },
    /// A statement was built with an `iss` that is not the signing key's.
    #[error("cannot sign a statement for {iss} with the key of {key_owner}")]
    NotSigner {
        /// The statement's issuer.
        iss: ActorId,
        /// The signing key's owner.
        key_owner: ActorId,
    },
}

/// The claims of a signed statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// The signer.
    pub iss: ActorId,
    /// The ledger the statement is for.
    pub aud: String,
    /// One-time nonce: 16 random bytes, base64url.
    pub jti: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// The action.
    pub act: Action,
}

/// What a verifier requires of a statement besides its signature.
#[derive(Clone, Copy, Debug)]
pub struct VerifyPolicy<'a> {
    /// The expected `aud`.
    pub audience: &'a str,
    /// The verification time (Unix seconds): the transaction timestamp on the ledger.
    pub now: i64,
    /// How far `iat` may lie in the future, for clock skew between phone and ledger.
    pub max_skew_secs: i64,
    /// The longest lifetime (`exp − iat`) accepted.
    pub max_lifetime_secs: i64,
}

impl Statement {
    /// Builds a statement issued `now`, valid for `ttl_secs`, with a fresh nonce.
    pub fn new(
        iss: ActorId,
        aud: &str,
        act: Action,
        now: i64,
        ttl_secs: i64,
        rng: &mut impl CryptoRngCore,
    ) -> Self {
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        Statement {
            iss,
            aud: aud.to_owned(),
            jti: URL_SAFE_NO_PAD.encode(nonce),
            iat: now,
            exp: now.saturating_add(ttl_secs),
            act,
        }
    }

    /// Signs the statement as a compact JWS; the key must be the issuer's.
    pub fn sign(&self, key: &SigningKey) -> Result<String, StatementError> {
        let key_owner = key.actor_id();
        if key_owner != self.iss {
            return Err(StatementError::NotSigner {
                iss: self.iss.clone(),
                key_owner,
            });
        }
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(STATEMENT_TYPE.to_owned());
        let encoding = EncodingKey::from_ec_der(&key.to_pkcs8_der());
        let token = jsonwebtoken::encode(&header, self, &encoding).map_err(|err| {
            StatementError::Malformed {
                reason: format!("could not encode: {err}"),
            }
        })?;
        strict::normalize(token)
    }

    /// Parses a token's header and claims without checking the signature, to
    /// find the issuer whose key will verify it. Never trust the result.
    pub fn peek(token: &str) -> Result<Statement, StatementError> {
        let (header, claims) = split(token)?;
        check_header(&header)?;
        serde_json::from_slice(&decode_part(claims, "claims")?).map_err(|err| {
            StatementError::Malformed {
                reason: format!("claims: {err}"),
            }
        })
    }

    /// Verifies a token under `key` and `policy` and returns its claims, with
    /// the acceptance every ledger was written under ([`JwsRules::Legacy`]),
    /// so chains replay. A verifier of fresh statements uses
    /// [`Statement::verify_strict`].
    pub fn verify(
        token: &str,
        key: &VerifyingKey,
        policy: &VerifyPolicy<'_>,
    ) -> Result<Statement, StatementError> {
        Self::verify_with_rules(token, key, policy, JwsRules::Legacy)
    }

    /// [`Statement::verify`] that also refuses a high-S signature and any `crit` ([`JwsRules::Strict`]).
    pub fn verify_strict(
        token: &str,
        key: &VerifyingKey,
        policy: &VerifyPolicy<'_>,
    ) -> Result<Statement, StatementError> {
        Self::verify_with_rules(token, key, policy, JwsRules::Strict)
    }

    /// [`Statement::verify`] under the given [`JwsRules`] (a ledger picks them by its storage rules).
    pub fn verify_with_rules(
        token: &str,
        key: &VerifyingKey,
        policy: &VerifyPolicy<'_>,
        rules: JwsRules,
    ) -> Result<Statement, StatementError> {
        let (header, _) = split(token)?;
        check_header(&header)?;
        if rules == JwsRules::Strict {
            strict::check(token)?;
        }

        let mut validation = Validation::new(Algorithm::ES256);
        // Time and audience are checked below against the ledger's clock, not the host's.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let decoding = DecodingKey::from_ec_der(&key.to_uncompressed_sec1());
        let data =
            jsonwebtoken::decode::<Statement>(token, &decoding, &validation).map_err(|err| {
                match err.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                        StatementError::BadSignature
                    }
                    jsonwebtoken::errors::ErrorKind::Json(inner) => StatementError::Malformed {
                        reason: format!("claims: {inner}"),
                    },
                    other => StatementError::Malformed {
                        reason: format!("{other:?}"),
                    },
                }
            })?;
        let statement = data.claims;
        statement.check(key, policy)?;
        Ok(statement)
    }

    /// The checks that need no signature: issuer, audience, nonce and time window.
    fn check(&self, key: &VerifyingKey, policy: &VerifyPolicy<'_>) -> Result<(), StatementError> {
        let expected = key.actor_id();
        if self.iss != expected {
            return Err(StatementError::IssuerMismatch {
                expected,
                found: self.iss.clone(),
            });
        }
        if self.aud != policy.audience {
            return Err(StatementError::WrongAudience {
                expected: policy.audience.to_owned(),
                found: self.aud.chars().take(128).collect(),
            });
        }
        let jti_ok = (MIN_JTI_LEN..=MAX_JTI_LEN).contains(&self.jti.len())
            && self
                .jti
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !jti_ok {
            return Err(StatementError::BadNonce {
                found: self.jti.chars().take(MAX_JTI_LEN).collect(),
            });
        }
        let lifetime = self.exp.saturating_sub(self.iat);
        if lifetime <= 0 || lifetime > policy.max_lifetime_secs {
            return Err(StatementError::BadLifetime {
                found: lifetime,
                max: policy.max_lifetime_secs,
            });
        }
        if self.iat > policy.now.saturating_add(policy.max_skew_secs) {
            return Err(StatementError::IssuedInFuture {
                iat: self.iat,
                now: policy.now,
                skew: policy.max_skew_secs,
            });
        }
        if self.exp <= policy.now {
            return Err(StatementError::Expired {
                exp: self.exp,
                now: policy.now,
            });
        }
        Ok(())
    }
}

/// The protected header fields we look at.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
}

fn split(token: &str) -> Result<(RawHeader, &str), StatementError> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(StatementError::Malformed {
            reason: "expected three dot-separated parts".into(),
        });
    };
    let header: RawHeader =
        serde_json::from_slice(&decode_part(header, "header")?).map_err(|err| {
            StatementError::Malformed {
                reason: format!("header: {err}"),
            }
        })?;
    Ok((header, claims))
}

fn decode_part(part: &str, name: &str) -> Result<Vec<u8>, StatementError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| StatementError::Malformed {
            reason: format!("{name} is not base64url"),
        })
}

fn check_header(header: &RawHeader) -> Result<(), StatementError> {
    if header.alg != "ES256" {
        return Err(StatementError::WrongAlgorithm {
            found: header.alg.chars().take(32).collect(),
        });
    }
    match header.typ.as_deref() {
        Some(STATEMENT_TYPE) => Ok(()),
        other => Err(StatementError::WrongType {
            found: other.unwrap_or("").chars().take(64).collect(),
        }),
    }
}

#[cfg(test)]
mod tests;
