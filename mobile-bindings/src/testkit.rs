//! Test-only doctor, insurer and admin helpers (feature `testkit`), so the
//! foreign-language end-to-end tests can drive the other roles of the story
//! with real keys: signing statements, encrypting records and issuing
//! policies need the same core crypto the phone uses, which Python does not
//! have. Never part of an app build.

use std::sync::Arc;

use carechain_core::OsRng;
use carechain_core::envelope::{self, DataKey, HpkePublicKey, HpkeSecretKey};
use carechain_core::icd10::{CoveredCode, Icd10Code};
use carechain_core::identity::SigningKey;
use carechain_core::ids::{ActorId, B64, PolicyId, ProductId, RecordId, RequestId};
use carechain_core::paillier::PublicKey;
use carechain_core::statement::*;
use reqwest::Method;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::error::{MobileError, integrity, invalid};
use crate::runtime;

/// Which staff role to enrol.
#[derive(Clone, Copy, Debug, uniffi::Enum)]
pub enum TestRole {
    /// A doctor.
    Doctor,
    /// An insurer.
    Insurer,
}

/// Someone with keys and a bearer token on the relay.
struct Session {
    http: reqwest::Client,
    base: url::Url,
    aud: String,
    key: SigningKey,
    hpke: HpkeSecretKey,
    token: String,
}

impl Session {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Result<Value, MobileError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| invalid(format!("{path}: {e}")))?;
        let mut req = self
            .http
            .request(method, url)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(MobileError::Refused {
                status: status.as_u16(),
                code: String::new(),
                reason: format!("{path}: {body}"),
            });
        }
        Ok(body)
    }

    async fn get(&self, path: &str) -> Result<Value, MobileError> {
        self.call(Method::GET, path, None, Some(&self.token)).await
    }

    fn sign(&self, act: Action) -> Result<String, MobileError> {
        let now = crate::wallet::now();
        Statement::new(self.key.actor_id(), &self.aud, act, now, 300, &mut OsRng)
            .sign(&self.key)
            .map_err(|e| MobileError::Internal {
                reason: e.to_string(),
            })
    }

    async fn submit(&self, path: &str, act: Action) -> Result<Value, MobileError> {
        let statement = self.sign(act)?;
        self.call(
            Method::POST,
            path,
            Some(json!({ "statement": statement })),
            Some(&self.token),
        )
        .await
    }

    async fn password_login(&mut self, email: &str, password: &str) -> Result<(), MobileError> {
        let body = json!({"email": email, "password": password});
        let reply = self
            .call(Method::POST, "v1/auth/login", Some(body), None)
            .await?;
        self.token = reply["access_token"]
            .as_str()
            .ok_or_else(|| integrity("login: no access_token"))?
            .to_owned();
        Ok(())
    }
}

/// The relay's admin, with the keys from its sealed keystore.
#[derive(uniffi::Object)]
pub struct TestAdmin(Session);

/// A doctor or insurer enrolled by [`TestAdmin::enrol`].
#[derive(uniffi::Object)]
pub struct TestStaff(Session);

/// Opens the relay's admin keystore (`carechain-relay init` format) and logs the admin in.
#[uniffi::export]
pub async fn testkit_admin(
    base_url: String,
    ledger_audience: String,
    keystore: Vec<u8>,
    keystore_passphrase: String,
    email: String,
    password: String,
) -> Result<Arc<TestAdmin>, MobileError> {
    runtime::spawn(async move {
        let (key, hpke) = open_admin_keystore(&keystore, &keystore_passphrase)?;
        let mut base = url::Url::parse(&base_url).map_err(|e| invalid(e.to_string()))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut session = Session {
            http: reqwest::Client::new(),
            base,
            aud: ledger_audience,
            key,
            hpke,
            token: String::new(),
        };
        session.password_login(&email, &password).await?;
        Ok(Arc::new(TestAdmin(session)))
    })
    .await
}

/// `CCADMKS1 ‖ salt(16) ‖ nonce(24) ‖ XChaCha20-Poly1305(JSON keys)`, argon2id(19456 KiB, 2, 1).
fn open_admin_keystore(
    bytes: &[u8],
    passphrase: &str,
) -> Result<(SigningKey, HpkeSecretKey), MobileError> {
    use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
    const HEADER: usize = 8 + 16 + 24;
    if bytes.len() < HEADER + 16 || &bytes[..8] != b"CCADMKS1" {
        return Err(MobileError::WalletUnusable {
            reason: "expected an admin keystore (CCADMKS1)".into(),
        });
    }
    let params =
        argon2::Params::new(19_456, 2, 1, Some(32)).map_err(|e| MobileError::Internal {
            reason: e.to_string(),
        })?;
    let mut key = Zeroizing::new([0u8; 32]);
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), &bytes[8..24], key.as_mut())
        .map_err(|e| MobileError::Internal {
            reason: e.to_string(),
        })?;
    let plain = Zeroizing::new(
        chacha20poly1305::XChaCha20Poly1305::new(key.as_ref().into())
            .decrypt(
                chacha20poly1305::XNonce::from_slice(&bytes[24..HEADER]),
                Payload {
                    msg: &bytes[HEADER..],
                    aad: &bytes[..HEADER],
                },
            )
            .map_err(|_| MobileError::WrongSecret)?,
    );
    let contents: Value = serde_json::from_slice(&plain).map_err(|_| MobileError::WrongSecret)?;
    let field = |name: &str| -> Result<Zeroizing<Vec<u8>>, MobileError> {
        let list = contents[name]
            .as_array()
            .ok_or_else(|| integrity(format!("keystore: no {name}")))?;
        Ok(Zeroizing::new(
            list.iter()
                .filter_map(|v| v.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect(),
        ))
    };
    let signing = SigningKey::from_bytes(&field("signing_key")?)
        .map_err(|e| integrity(format!("keystore: {e}")))?;
    let hpke = HpkeSecretKey::from_bytes(&field("hpke_key")?)
        .map_err(|e| integrity(format!("keystore: {e}")))?;
    Ok((signing, hpke))
}

#[uniffi::export]
impl TestAdmin {
    /// Signs up a doctor or insurer with fresh keys, approves it (registering
    /// its identity on the ledger) and logs it in.
    pub async fn enrol(
        self: Arc<Self>,
        role: TestRole,
        email: String,
        password: String,
        display_name: String,
    ) -> Result<Arc<TestStaff>, MobileError> {
        runtime::spawn(async move {
            let admin = &self.0;
            let key = SigningKey::generate(&mut OsRng);
            let hpke = HpkeSecretKey::generate(&mut OsRng);
            let (role_name, ledger_role) = match role {
                TestRole::Doctor => ("doctor", Role::Doctor),
                TestRole::Insurer => ("insurer", Role::Insurer),
            };
            let signup = json!({
                "email": email, "password": password, "role": role_name,
                "display_name": display_name,
                "signing_key": B64(key.verifying_key().to_sec1_bytes()).encode(),
                "hpke_key": B64(hpke.public_key().to_bytes()).encode(),
            });
            let account = admin
                .call(Method::POST, "v1/accounts", Some(signup), None)
                .await?;
            let id = account["id"]
                .as_str()
                .ok_or_else(|| integrity("sign-up: no id"))?;
            let registration = RegisterIdentity {
                role: ledger_role,
                signing_key: key.verifying_key(),
                hpke_key: B64(hpke.public_key().to_bytes()),
                display_name,
                paillier: None,
            };
            admin
                .submit(
                    &format!("v1/admin/accounts/{id}/approve"),
                    Action::RegisterIdentity(registration),
                )
                .await?;
            let mut staff = Session {
                http: admin.http.clone(),
                base: admin.base.clone(),
                aud: admin.aud.clone(),
                key,
                hpke,
                token: String::new(),
            };
            staff.password_login(&email, &password).await?;
            Ok(Arc::new(TestStaff(staff)))
        })
        .await
    }
}

#[uniffi::export]
impl TestStaff {
    /// The ledger actor id.
    pub fn actor_id(&self) -> String {
        self.0.key.actor_id().to_string()
    }

    /// A doctor asks `patient_id` for read and write on every record for 30 days.
    pub async fn request_access(
        self: Arc<Self>,
        patient_id: String,
    ) -> Result<String, MobileError> {
        runtime::spawn(async move {
            let patient: ActorId = patient_id.parse().map_err(|e| invalid(format!("{e}")))?;
            let request = RequestId::random(&mut OsRng);
            let act = Action::AccessRequest(AccessRequest {
                request,
                patient,
                actions: vec![AccessAction::Read, AccessAction::Write],
                scope: Scope::All,
                purpose: PurposeOfUse::Treat,
                duration_secs: 30 * 86_400,
            });
            self.0.submit("v1/requests", act).await?;
            Ok(request.0.to_string())
        })
        .await
    }

    /// A doctor writes a FHIR `Condition` with ICD-10-CM `code` for the
    /// patient (Paillier key `patient_paillier_key`), wrapping the data key
    /// for every reader the relay lists. If `lie_about_code` is set, `E(code)`
    /// encrypts that code instead, to exercise the phone's mismatch check.
    pub async fn write_condition(
        self: Arc<Self>,
        patient_id: String,
        patient_paillier_key: Vec<u8>,
        code: String,
        lie_about_code: Option<String>,
    ) -> Result<String, MobileError> {
        runtime::spawn(async move {
            let s = &self.0;
            let patient: ActorId = patient_id.parse().map_err(|e| invalid(format!("{e}")))?;
            let pk = PublicKey::from_bytes(&patient_paillier_key)
                .map_err(|e| invalid(format!("paillier key: {e}")))?;
            let diagnosis: Icd10Code = code.parse().map_err(|e| invalid(format!("{e}")))?;
            let encrypted: Icd10Code = match &lie_about_code {
                Some(other) => other.parse().map_err(|e| invalid(format!("{e}")))?,
                None => diagnosis.clone(),
            };
            let readers = s
                .get(&format!("v1/patients/{patient}/readers?category=general"))
                .await?;
            let record = RecordId::random(&mut OsRng);
            let fhir = json!({
                "resourceType": "Condition",
                "subject": {"reference": format!("Patient/{patient}")},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": diagnosis.to_string()}]},
            });
            let data_key = DataKey::generate(&mut OsRng);
            let sealed = envelope::seal(
                fhir.to_string().as_bytes(),
                &data_key,
                &patient,
                &record,
                &mut OsRng,
            );
            let mut keys = Vec::new();
            for r in readers.as_array().into_iter().flatten() {
                let reader: ActorId = r["actor"]
                    .as_str()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e| integrity(format!("reader: {e}")))?;
                let hpke = B64::decode(r["hpke_key"].as_str().unwrap_or_default())
                    .map_err(|e| integrity(format!("reader key: {e}")))?;
                let hpke = HpkePublicKey::from_bytes(hpke.as_bytes())
                    .map_err(|e| integrity(format!("reader key: {e}")))?;
                let wrapped = data_key
                    .wrap_for(&hpke, &patient, &record, &mut OsRng)
                    .map_err(|e| integrity(format!("wrap: {e}")))?;
                keys.push(ReaderKey {
                    reader,
                    enc: wrapped.enc,
                    ciphertext: wrapped.ciphertext,
                });
            }
            let act = Action::WriteRecord(WriteRecord {
                record,
                patient,
                category: RecordCategory::General,
                nonce: sealed.nonce,
                payload: sealed.ciphertext,
                keys,
                code: B64(pk.encrypt(encrypted.encode(), &mut OsRng).to_bytes()),
                code_category: B64(pk
                    .encrypt(encrypted.category().encode(), &mut OsRng)
                    .to_bytes()),
            });
            s.submit("v1/records", act).await?;
            Ok(record.0.to_string())
        })
        .await
    }

    /// A doctor reads a record (logged on the ledger) and returns its FHIR JSON.
    pub async fn read_record(self: Arc<Self>, record_id: String) -> Result<String, MobileError> {
        runtime::spawn(async move {
            let s = &self.0;
            let record: RecordId = record_id.parse().map_err(|e| invalid(format!("{e}")))?;
            let read = s
                .submit(
                    &format!("v1/records/{record_id}/read"),
                    Action::ReadRecord(ReadRecord { record }),
                )
                .await?;
            let patient: ActorId = read["record"]["patient"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(|e| integrity(format!("patient: {e}")))?;
            let b64 = |v: &Value| {
                B64::decode(v.as_str().unwrap_or_default()).map_err(|e| integrity(format!("{e}")))
            };
            let wrapped = envelope::WrappedKey {
                enc: b64(&read["key"]["enc"])?,
                ciphertext: b64(&read["key"]["ciphertext"])?,
            };
            let key = wrapped
                .unwrap(&s.hpke, &patient, &record)
                .map_err(|e| integrity(format!("{e}")))?;
            let sealed = envelope::SealedPayload {
                nonce: b64(&read["record"]["nonce"])?,
                ciphertext: b64(&read["record"]["payload"])?,
            };
            let plain = envelope::open(&sealed, &key, &patient, &record)
                .map_err(|e| integrity(format!("{e}")))?;
            String::from_utf8(plain.to_vec()).map_err(|_| integrity("not UTF-8"))
        })
        .await
    }

    /// An insurer publishes a one-item product covering `code` (a code or category).
    pub async fn publish_product(
        self: Arc<Self>,
        name: String,
        code: String,
        payout: u64,
    ) -> Result<String, MobileError> {
        runtime::spawn(async move {
            code.parse::<CoveredCode>()
                .map_err(|e| invalid(format!("{e}")))?;
            let product = ProductId::random(&mut OsRng);
            let act = Action::PublishProduct(PublishProduct {
                product,
                name,
                currency: "EUR".into(),
                premium: 1_000,
                term_days: 365,
                items: vec![CoveredItem { code, payout }],
            });
            self.0.submit("v1/products", act).await?;
            Ok(product.0.to_string())
        })
        .await
    }

    /// An insurer issues purchased `policy_id`, encrypting each covered item
    /// under the patient's Paillier key.
    pub async fn issue_policy(
        self: Arc<Self>,
        policy_id: String,
        patient_paillier_key: Vec<u8>,
    ) -> Result<(), MobileError> {
        runtime::spawn(async move {
            let s = &self.0;
            let policy: PolicyId = policy_id.parse().map_err(|e| invalid(format!("{e}")))?;
            let pk = PublicKey::from_bytes(&patient_paillier_key)
                .map_err(|e| invalid(format!("paillier key: {e}")))?;
            let state = s.get(&format!("v1/policies/{policy_id}")).await?;
            let product = s
                .get(&format!(
                    "v1/products/{}",
                    state["product"].as_str().unwrap_or_default()
                ))
                .await?;
            let mut items = Vec::new();
            for item in product["items"].as_array().into_iter().flatten() {
                let code: CoveredCode = item["code"]
                    .as_str()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e| integrity(format!("{e}")))?;
                items.push(B64(pk.encrypt(code.encode(), &mut OsRng).to_bytes()));
            }
            s.submit(
                &format!("v1/policies/{policy_id}/issue"),
                Action::IssuePolicy(IssuePolicy { policy, items }),
            )
            .await?;
            Ok(())
        })
        .await
    }
}
