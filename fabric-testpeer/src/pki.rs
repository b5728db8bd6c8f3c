//! The network's public-key infrastructure, as `cryptogen` lays it out for
//! Org1: a signing CA (the MSP's root) that issues the peer's and the users'
//! enrolment certificates, and a separate TLS CA for the peer's server
//! certificate. Everything is ECDSA P-256 / SHA-256, as Fabric's default BCCSP.
//!
//! The verifying side ([`Msp`]) reads certificates with `x509-cert` and checks
//! signatures with `p256`, as Fabric's MSP and BCCSP do: a certificate must be
//! issued (and signed) by the MSP's CA and be within its validity period, and
//! a message signature must be a DER ECDSA signature with a low S.

use std::time::{SystemTime, UNIX_EPOCH};

use carechain_fabric_protos::msp::SerializedIdentity;
use carechain_fabric_protos::prost::Message;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused the parameters or failed to sign.
    #[error("cannot generate the certificate of {subject}: {source}")]
    Generate {
        /// The certificate's common name.
        subject: String,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },
    /// A generated key could not be read back as a P-256 key.
    #[error("expected a PKCS#8 P-256 key for {subject}, found an unreadable one: {reason}")]
    Key {
        /// The certificate's common name.
        subject: String,
        /// What was wrong.
        reason: String,
    },
}

/// Why an identity or a signature was refused (the reasons Fabric logs; the
/// client is only ever told "access denied").
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// The bytes are not a `msp.SerializedIdentity`.
    #[error("expected a msp.SerializedIdentity, found undecodable bytes")]
    Malformed,
    /// The identity names an MSP this channel does not know.
    #[error("expected an identity of MSP {expected}, found MSP {found:?}")]
    UnknownMsp {
        /// The channel's MSP.
        expected: String,
        /// The identity's MSP id.
        found: String,
    },
    /// The certificate is not a PEM X.509 certificate.
    #[error("expected a PEM X.509 certificate, found an unreadable one")]
    BadCertificate,
    /// The certificate was not issued by the MSP's CA.
    #[error("the certificate is not issued by the CA of {0}")]
    NotIssued(String),
    /// The certificate is outside its validity period.
    #[error("the certificate is expired or not yet valid")]
    Expired,
    /// The certificate's key is not a P-256 key.
    #[error("expected a P-256 public key in the certificate")]
    BadKey,
    /// The signature is not a DER ECDSA signature.
    #[error("expected a DER-encoded ECDSA signature, found malformed bytes")]
    BadSignatureEncoding,
    /// The signature has a high S, which Fabric refuses.
    #[error("invalid S. Must be smaller than half the order")]
    HighS,
    /// The signature does not verify under the certificate's key.
    #[error("the signature is not valid")]
    BadSignature,
}

/// A certificate and its private key.
#[derive(Clone)]
pub struct Enrolment {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    key: SigningKey,
}

/// Formats a holder of a certificate and its private key, the key redacted.
pub(crate) fn fmt_redacted(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    cert_pem: &str,
) -> std::fmt::Result {
    f.debug_struct(name)
        .field("cert_pem", &cert_pem)
        .field("key_pem", &"<redacted>")
        .finish()
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fmt_redacted(f, "Enrolment", &self.cert_pem)
    }
}

impl Enrolment {
    /// A DER ECDSA signature with a low S over SHA-256(`message`), as Fabric's signer makes.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        sign(&self.key, message)
    }

    /// The serialized identity `{msp_id, PEM certificate}`.
    pub fn serialized(&self, msp_id: &str) -> Vec<u8> {
        SerializedIdentity {
            mspid: msp_id.to_owned(),
            id_bytes: self.cert_pem.as_bytes().to_vec(),
        }
        .encode_to_vec()
    }
}

/// Signs `message` (SHA-256, DER, low S).
pub fn sign(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    let signature: Signature = key.sign(message);
    signature
        .normalize_s()
        .unwrap_or(signature)
        .to_der()
        .as_bytes()
        .to_vec()
}

/// A certificate authority that issues certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// The CA's self-signed certificate, PEM.
    pub cert_pem: String,
}

fn name(common_name: &str, organization: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, organization);
    dn.push(DnType::CommonName, common_name);
    dn
}

fn generate(
    subject: &str,
    result: Result<rcgen::Certificate, rcgen::Error>,
) -> Result<String, PkiError> {
    result
        .map(|c| c.pem())
        .map_err(|source| PkiError::Generate {
            subject: subject.to_owned(),
            source,
        })
}

fn key_pair(subject: &str) -> Result<KeyPair, PkiError> {
    KeyPair::generate().map_err(|source| PkiError::Generate {
        subject: subject.to_owned(),
        source,
    })
}

fn enrolment(subject: &str, cert_pem: String, key: &KeyPair) -> Result<Enrolment, PkiError> {
    let key_pem = key.serialize_pem();
    let signing = SigningKey::from_pkcs8_pem(&key_pem).map_err(|e| PkiError::Key {
        subject: subject.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(Enrolment {
        cert_pem,
        key_pem,
        key: signing,
    })
}

impl Authority {
    /// A new self-signed CA named `common_name` of `organization`.
    pub fn new(common_name: &str, organization: &str) -> Result<Self, PkiError> {
        let key = key_pair(common_name)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, organization);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let cert_pem = generate(common_name, params.self_signed(&key))?;
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_pem,
        })
    }

    /// Issues an end-entity certificate for `common_name` with the Node OU
    /// `role` (`peer`, `client`, …; empty for none) and DNS names `sans`.
    pub fn issue(
        &self,
        common_name: &str,
        organization: &str,
        role: &str,
        sans: &[&str],
    ) -> Result<Enrolment, PkiError> {
        let key = key_pair(common_name)?;
        let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(sans).map_err(|source| PkiError::Generate {
            subject: common_name.to_owned(),
            source,
        })?;
        params.distinguished_name = name(common_name, organization);
        if !role.is_empty() {
            params
                .distinguished_name
                .push(DnType::OrganizationalUnitName, role);
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert_pem = generate(common_name, params.signed_by(&key, &self.issuer))?;
        enrolment(common_name, cert_pem, &key)
    }

    /// A self-signed end-entity certificate, from no CA any MSP knows.
    pub fn self_signed(common_name: &str, organization: &str) -> Result<Enrolment, PkiError> {
        let key = key_pair(common_name)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, organization);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert_pem = generate(common_name, params.self_signed(&key))?;
        enrolment(common_name, cert_pem, &key)
    }
}

/// An MSP as the channel configuration defines it: an id and a root CA.
#[derive(Clone, Debug)]
pub struct Msp {
    /// The MSP id, e.g. `Org1MSP`.
    pub id: String,
    root: Certificate,
    root_key: VerifyingKey,
}

/// The OID of organizationalUnitName.
const OU: &str = "2.5.4.11";
/// The OID of ecdsa-with-SHA256.
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

fn parse_pem(pem: &[u8]) -> Result<Certificate, IdentityError> {
    Certificate::from_pem(pem).map_err(|_| IdentityError::BadCertificate)
}

fn public_key(cert: &Certificate) -> Result<VerifyingKey, IdentityError> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
        .map_err(|_| IdentityError::BadKey)
}

/// Verifies a DER ECDSA signature over SHA-256(`message`); `low_s` requires
/// S ≤ n/2, as Fabric's BCCSP does for message signatures.
pub fn verify(
    key: &VerifyingKey,
    message: &[u8],
    der: &[u8],
    low_s: bool,
) -> Result<(), IdentityError> {
    let signature = Signature::from_der(der).map_err(|_| IdentityError::BadSignatureEncoding)?;
    if low_s && signature.normalize_s().is_some() {
        return Err(IdentityError::HighS);
    }
    key.verify(message, &signature)
        .map_err(|_| IdentityError::BadSignature)
}

impl Msp {
    /// The MSP `id` rooted at the CA certificate `root_pem`.
    pub fn new(id: &str, root_pem: &str) -> Result<Self, IdentityError> {
        let root = parse_pem(root_pem.as_bytes())?;
        let root_key = public_key(&root)?;
        Ok(Self {
            id: id.to_owned(),
            root,
            root_key,
        })
    }

    /// Deserializes a `msp.SerializedIdentity` of this MSP (Fabric's
    /// `DeserializeIdentity`): its MSP id and its certificate must parse.
    pub fn deserialize(&self, serialized: &[u8]) -> Result<Certificate, IdentityError> {
        let identity =
            SerializedIdentity::decode(serialized).map_err(|_| IdentityError::Malformed)?;
        if identity.mspid != self.id {
            return Err(IdentityError::UnknownMsp {
                expected: self.id.clone(),
                found: identity.mspid,
            });
        }
        parse_pem(&identity.id_bytes)
    }

    /// Validates a deserialized identity (Fabric's `Validate`): issued and
    /// signed by the MSP's CA, within its validity period; returns its key.
    pub fn validate(&self, cert: &Certificate) -> Result<VerifyingKey, IdentityError> {
        let tbs = &cert.tbs_certificate;
        let not_issued = || IdentityError::NotIssued(self.id.clone());
        if tbs.issuer != self.root.tbs_certificate.subject
            || cert.signature_algorithm.oid.to_string() != ECDSA_SHA256
        {
            return Err(not_issued());
        }
        let tbs_der = tbs.to_der().map_err(|_| IdentityError::BadCertificate)?;
        let signature = cert.signature.raw_bytes();
        verify(&self.root_key, &tbs_der, signature, false).map_err(|_| not_issued())?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        if now < tbs.validity.not_before.to_unix_duration()
            || now > tbs.validity.not_after.to_unix_duration()
        {
            return Err(IdentityError::Expired);
        }
        public_key(cert)
    }

    /// Whether `cert` carries the Node OU `role` (e.g. `peer`), as Fabric's
    /// `Org1MSP.peer` principal requires with Node OUs enabled.
    pub fn has_role(cert: &Certificate, role: &str) -> bool {
        cert.tbs_certificate.subject.0.iter().any(|rdn| {
            rdn.0.iter().any(|atv| {
                atv.oid.to_string() == OU
                    && x509_cert::der::asn1::Utf8StringRef::try_from(&atv.value)
                        .is_ok_and(|v| v.as_str() == role)
            })
        })
    }

    /// Deserializes and validates `serialized`, then verifies `signature`
    /// over `message` under it (low S required).
    pub fn check(
        &self,
        serialized: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), IdentityError> {
        let cert = self.deserialize(serialized)?;
        let key = self.validate(&cert)?;
        verify(&key, message, signature, true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Org1's MSP and a client identity its CA issued.
    fn org1_client() -> (Msp, Enrolment) {
        let ca = Authority::new("ca.org1.example.com", "org1.example.com").unwrap();
        let msp = Msp::new("Org1MSP", &ca.cert_pem).unwrap();
        let user = ca
            .issue("User1@org1.example.com", "org1.example.com", "client", &[])
            .unwrap();
        (msp, user)
    }

    #[test]
    fn issued_identities_verify_and_foreign_ones_do_not() {
        let (msp, user) = org1_client();
        let sig = user.sign(b"hello");
        let cert = msp.deserialize(&user.serialized("Org1MSP")).unwrap();
        assert!(Msp::has_role(&cert, "client"));
        assert!(!Msp::has_role(&cert, "peer"));
        assert_eq!(
            msp.check(&user.serialized("Org1MSP"), b"hello", &sig),
            Ok(())
        );
        assert_eq!(
            msp.check(&user.serialized("Org1MSP"), b"hellO", &sig),
            Err(IdentityError::BadSignature)
        );
        assert!(matches!(
            msp.check(&user.serialized("Org2MSP"), b"hello", &sig),
            Err(IdentityError::UnknownMsp { .. })
        ));
        let foreign = Authority::self_signed("Mallory", "evil.example.com").unwrap();
        let sig = foreign.sign(b"hello");
        assert!(matches!(
            msp.check(&foreign.serialized("Org1MSP"), b"hello", &sig),
            Err(IdentityError::NotIssued(_))
        ));
    }

    #[test]
    fn high_s_signatures_are_refused() {
        let (msp, user) = org1_client();
        let low = Signature::from_der(&user.sign(b"m")).unwrap();
        // (r, n - s) is the same signature with a high S.
        let (r, s) = low.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        let der = high.to_der().as_bytes().to_vec();
        assert_eq!(
            msp.check(&user.serialized("Org1MSP"), b"m", &der),
            Err(IdentityError::HighS)
        );
    }
}
