//! The relay's Fabric identity: an MSP id, its X.509 certificate (PEM, sent
//! as is as the `SerializedIdentity.id_bytes`, as every Fabric SDK does) and
//! its P-256 private key (PKCS#8 PEM). Signatures are ECDSA over SHA-256 of
//! the message, DER-encoded with a low S value: Fabric's MSP rejects high-S
//! signatures to prevent malleability.

use std::fmt;
use std::path::Path;

use carechain_fabric_protos::msp::SerializedIdentity;
use carechain_fabric_protos::prost::Message;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePrivateKey;

/// Why the identity could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A file could not be read.
    #[error("cannot read the {what} from {path}: {source}")]
    Read {
        /// Certificate or key.
        what: &'static str,
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("expected a PEM certificate (-----BEGIN CERTIFICATE-----) in {0}, found none")]
    NotACertificate(String),
    /// The key is not a P-256 PKCS#8 PEM private key (its bytes are never shown).
    #[error("expected a P-256 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----) in {0}")]
    BadKey(String),
}

/// An MSP identity that signs proposals, envelopes and requests.
pub struct FabricIdentity {
    msp_id: String,
    certificate_pem: Vec<u8>,
    key: SigningKey,
}

impl fmt::Debug for FabricIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FabricIdentity")
            .field("msp_id", &self.msp_id)
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl FabricIdentity {
    /// An identity from PEM contents.
    pub fn from_pem(
        msp_id: impl Into<String>,
        certificate_pem: &[u8],
        key_pem: &str,
        origin: &str,
    ) -> Result<Self, IdentityError> {
        if !String::from_utf8_lossy(certificate_pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(IdentityError::NotACertificate(origin.to_owned()));
        }
        let key = SigningKey::from_pkcs8_pem(key_pem)
            .map_err(|_| IdentityError::BadKey(origin.to_owned()))?;
        Ok(Self {
            msp_id: msp_id.into(),
            certificate_pem: certificate_pem.to_vec(),
            key,
        })
    }

    /// An identity from a certificate file and a key file.
    pub fn from_files(
        msp_id: impl Into<String>,
        certificate: &Path,
        key: &Path,
    ) -> Result<Self, IdentityError> {
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|source| IdentityError::Read {
                what,
                path: path.display().to_string(),
                source,
            })
        };
        let certificate_pem = read("certificate", certificate)?;
        let key_pem = zeroize::Zeroizing::new(read("private key", key)?);
        let key_text = String::from_utf8_lossy(&key_pem);
        Self::from_pem(
            msp_id,
            &certificate_pem,
            &key_text,
            &key.display().to_string(),
        )
        .map_err(|e| match e {
            IdentityError::NotACertificate(_) => {
                IdentityError::NotACertificate(certificate.display().to_string())
            }
            other => other,
        })
    }

    /// The MSP id.
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The serialized identity (the `creator` of every header and request).
    pub fn creator(&self) -> Vec<u8> {
        SerializedIdentity {
            mspid: self.msp_id.clone(),
            id_bytes: self.certificate_pem.clone(),
        }
        .encode_to_vec()
    }

    /// ECDSA P-256 / SHA-256 signature of `message`, low-S, DER.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature: Signature = self.key.sign(message);
        signature
            .normalize_s()
            .unwrap_or(signature)
            .to_der()
            .as_bytes()
            .to_vec()
    }

    /// The public key signatures verify under.
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }
}
