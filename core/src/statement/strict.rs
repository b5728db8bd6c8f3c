//! The JWS checks jsonwebtoken does not make: one valid signature per
//! statement and no critical extensions.
//!
//! - **Low S.** An ECDSA signature (r, s) has a twin (r, n − s) that verifies
//!   as well. jsonwebtoken (and p256 underneath) accepts both, so anyone can
//!   make a second, different token for a statement someone signed. The
//!   contract's one-time `jti` already stops a twin from acting twice, but a
//!   token's bytes should still identify it: under [`JwsRules::Strict`] only
//!   s ≤ n/2 is accepted, and [`normalize`] makes every signature this crate
//!   produces low-S.
//! - **`crit`.** RFC 7515 §4.1.11: a recipient must refuse a JWS whose `crit`
//!   header names extensions it does not understand. Statements use none, so
//!   under [`JwsRules::Strict`] any `crit` is refused.
//!
//! [`JwsRules::Legacy`] keeps the earlier acceptance, for ledgers that
//! recorded statements before these checks (a replayed chain must verify as
//! it did when written).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::Signature;

use super::StatementError;

/// Which JWS a verifier accepts beyond a valid ES256 signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwsRules {
    /// Low-S signatures only and no `crit` header.
    Strict,
    /// Either S and `crit` ignored: what was accepted before, for chains written then.
    Legacy,
}

/// Refuses a compact JWS with a `crit` header parameter or a high-S signature.
pub(crate) fn check(token: &str) -> Result<(), StatementError> {
    let malformed = |reason: &str| StatementError::Malformed {
        reason: reason.to_owned(),
    };
    let mut parts = token.split('.');
    let (Some(header), Some(_claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("expected three dot-separated parts"));
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| malformed("header is not base64url"))?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|err| StatementError::Malformed {
            reason: format!("header: {err}"),
        })?;
    if let Some(crit) = header.get("crit") {
        return Err(StatementError::UnknownCritical {
            found: crit.to_string().chars().take(64).collect(),
        });
    }
    let signature = parse(signature)?;
    if signature.normalize_s().is_some() {
        return Err(StatementError::HighS);
    }
    Ok(())
}

/// The signature part as an ES256 (r ‖ s) signature.
fn parse(signature: &str) -> Result<Signature, StatementError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| StatementError::Malformed {
            reason: "signature is not base64url".into(),
        })?;
    Signature::from_slice(&bytes).map_err(|_| StatementError::BadSignature)
}

/// `token` with its signature replaced by the low-S twin if it is high-S.
pub(crate) fn normalize(token: String) -> Result<String, StatementError> {
    let Some((signed, signature)) = token.rsplit_once('.') else {
        return Err(StatementError::Malformed {
            reason: "expected three dot-separated parts".into(),
        });
    };
    match parse(signature)?.normalize_s() {
        None => Ok(token),
        Some(low) => Ok(format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(low.to_bytes())
        )),
    }
}

/// `token` with its signature (r, s) replaced by the twin (r, n − s): as
/// valid, and high-S when the original is low-S.
#[cfg(test)]
pub(crate) fn twin(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').expect("a compact JWS");
    let (r, s) = parse(signature)
        .expect("an ES256 signature")
        .split_scalars();
    let twin = Signature::from_scalars(r, -s).expect("a valid twin");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(twin.to_bytes()))
}
