//! The admin, doctors and insurers: real keys, every step over the relay's
//! HTTP API, encryption and signing done locally with `carechain-core`'s
//! protocol steps as their tools do. Helpers that are meant to succeed assert it; the `try_…`
//! ones return the answer so a scenario can assert the refusal.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use carechain_core::OsRng;
use carechain_core::envelope::{self, HpkeSecretKey};
use carechain_core::icd10::Icd10Code;
use carechain_core::identity::SigningKey;
use carechain_core::ids::{ActorId, B64, ClaimId, PolicyId, ProductId, RecordId, RequestId};
use carechain_core::paillier::PublicKey;
use carechain_core::protocol::claim::encrypt_policy_items;
use carechain_core::protocol::record::open_record;
use carechain_core::protocol::write::RecordWrite;
use carechain_core::protocol::{fhir, write};
use carechain_core::statement::*;
use carechain_core::wallet::StaffKeys;

use crate::http::{Http, Reply};
use crate::relay::{ADMIN_EMAIL, ADMIN_PASSWORD, KEYSTORE_PASSPHRASE, Relay};

/// A staff member (admin, doctor or insurer) logged in to the relay.
pub struct Staff {
    pub http: Http,
    pub key: SigningKey,
    pub hpke: HpkeSecretKey,
    pub token: String,
}

impl Staff {
    /// The ledger actor id.
    pub fn id(&self) -> ActorId {
        self.key.actor_id()
    }

    /// An authenticated GET.
    pub async fn get(&self, path: &str) -> Reply {
        self.http.get(path, &self.token).await
    }

    /// Signs `act` and POSTs it to `path`.
    pub async fn post(&self, path: &str, act: Action) -> Reply {
        self.http
            .post_signed(path, &self.token, &self.key, act)
            .await
    }
}

/// Opens the relay's admin keystore and logs the admin in.
pub async fn admin(relay: &Relay) -> Staff {
    let keys = StaffKeys::open(&relay.admin_keystore(), KEYSTORE_PASSPHRASE)
        .expect("the admin keystore opens with its passphrase");
    let http = Http::new(&relay.url);
    let token = http.password_login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    Staff {
        http,
        key: keys.signing,
        hpke: keys.hpke,
        token,
    }
}

/// Signs up a doctor or insurer with fresh keys, has `admin` approve it (its
/// identity goes on the ledger) and logs it in.
pub async fn enrol(admin: &Staff, role: Role, name: &str) -> Staff {
    let key = SigningKey::generate(&mut OsRng);
    let hpke = HpkeSecretKey::generate(&mut OsRng);
    let role_name = match role {
        Role::Doctor => "doctor",
        Role::Insurer => "insurer",
        other => panic!("only doctors and insurers sign up, not {other:?}"),
    };
    let email = format!("{name}-{}@example.org", uuid::Uuid::new_v4().simple());
    let password = "a long enough password";
    let signup = json!({
        "email": email, "password": password, "role": role_name, "display_name": name,
        "signing_key": B64(key.verifying_key().to_sec1_bytes()).encode(),
        "hpke_key": B64(hpke.public_key().to_bytes()).encode(),
    });
    let account = admin
        .http
        .send(Method::POST, "/v1/accounts", None, Some(signup))
        .await
        .ok(StatusCode::CREATED);
    assert_eq!(account["status"], "pending", "{account}");
    let id = account["id"].as_str().expect("an account id");
    // A pending account cannot act yet.
    let early = admin
        .http
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await;
    assert!(
        early.status.is_client_error(),
        "a pending account logged in: {early:?}"
    );
    let registration = RegisterIdentity {
        role,
        signing_key: key.verifying_key(),
        hpke_key: B64(hpke.public_key().to_bytes()),
        display_name: name.to_owned(),
        paillier: None,
    };
    admin
        .post(
            &format!("/v1/admin/accounts/{id}/approve"),
            Action::RegisterIdentity(registration),
        )
        .await
        .ok(StatusCode::OK);
    let token = admin.http.password_login(&email, password).await;
    Staff {
        http: admin.http.clone(),
        key,
        hpke,
        token,
    }
}

/// A patient's public keys as the relay publishes them.
pub struct PatientKeys {
    pub hpke: B64,
    pub paillier: PublicKey,
}

/// The FHIR `Condition` a doctor writes for `patient` with ICD-10-CM `code`.
pub fn condition(patient: &ActorId, code: &Icd10Code) -> Value {
    fhir::condition(patient.as_str(), &code.to_string(), "")
}

impl Staff {
    /// `GET /v1/identities/{patient}`: the keys records and policies are encrypted to.
    pub async fn patient_keys(&self, patient: &ActorId) -> PatientKeys {
        let identity = self
            .get(&format!("/v1/identities/{patient}"))
            .await
            .ok(StatusCode::OK);
        let b64 = |v: &Value| B64::decode(v.as_str().expect("a base64 field")).expect("base64");
        PatientKeys {
            hpke: b64(&identity["hpke_key"]),
            paillier: write::paillier_key(&b64(&identity["paillier"]["public_key"]))
                .expect("a Paillier key"),
        }
    }

    /// A doctor asks `patient` for `actions` on every record for 30 days.
    pub async fn request_access(&self, patient: &ActorId, actions: Vec<AccessAction>) -> RequestId {
        let request = RequestId::random(&mut OsRng);
        let act = Action::AccessRequest(AccessRequest {
            request,
            patient: patient.clone(),
            actions,
            scope: Scope::All,
            purpose: PurposeOfUse::Treat,
            duration_secs: 30 * 86_400,
        });
        self.post("/v1/requests", act).await.ok(StatusCode::CREATED);
        request
    }

    /// Builds a `write_record` of a `Condition` with `code`, the data key
    /// wrapped for each of `readers` (actor, published HPKE key).
    pub async fn record_act(
        &self,
        patient: &ActorId,
        code: &str,
        readers: &[(ActorId, B64)],
    ) -> (RecordId, Action) {
        let keys = self.patient_keys(patient).await;
        let code: Icd10Code = code.parse().expect("an ICD-10-CM code");
        let fhir = condition(patient, &code).to_string();
        let write = RecordWrite {
            record: RecordId::random(&mut OsRng),
            patient,
            category: RecordCategory::General,
            payload: fhir.as_bytes(),
            code: &code,
            paillier_key: &keys.paillier,
            readers,
        }
        .compose(&mut OsRng)
        .expect("the record write composes");
        (write.record, Action::WriteRecord(write))
    }

    /// The readers the relay lists for a new `general` record of `patient`.
    pub async fn try_readers(&self, patient: &ActorId) -> Reply {
        self.get(&format!("/v1/patients/{patient}/readers?category=general"))
            .await
    }

    /// A doctor with a write grant writes a `Condition` with `code` for
    /// `patient`, wrapping the data key for every reader the relay lists.
    pub async fn write_condition(&self, patient: &ActorId, code: &str) -> RecordId {
        let listed = self.try_readers(patient).await.ok(StatusCode::OK);
        let readers: Vec<(ActorId, B64)> = listed
            .as_array()
            .expect("a list of readers")
            .iter()
            .map(|r| {
                let actor = r["actor"]
                    .as_str()
                    .expect("a reader")
                    .parse()
                    .expect("an actor id");
                let key = B64::decode(r["hpke_key"].as_str().expect("a key")).expect("base64");
                (actor, key)
            })
            .collect();
        assert!(
            readers.iter().any(|(actor, _)| actor == patient),
            "the patient is one of the readers: {listed}"
        );
        let (record, act) = self.record_act(patient, code, &readers).await;
        self.post("/v1/records", act).await.ok(StatusCode::CREATED);
        record
    }

    /// A logged read of `record` (`POST /v1/records/{id}/read`).
    pub async fn try_read(&self, record: RecordId) -> Reply {
        self.post(
            &format!("/v1/records/{record}/read"),
            Action::ReadRecord(ReadRecord { record }),
        )
        .await
    }

    /// A doctor reads `record` and decrypts its FHIR payload.
    pub async fn read_condition(&self, record: RecordId) -> Value {
        let read = self.try_read(record).await.ok(StatusCode::OK);
        let b64 = |v: &Value| B64::decode(v.as_str().expect("a base64 field")).expect("base64");
        let patient: ActorId = read["record"]["patient"]
            .as_str()
            .expect("the record's patient")
            .parse()
            .expect("an actor id");
        let wrapped = envelope::WrappedKey {
            enc: b64(&read["key"]["enc"]),
            ciphertext: b64(&read["key"]["ciphertext"]),
        };
        let sealed = envelope::SealedPayload {
            nonce: b64(&read["record"]["nonce"]),
            ciphertext: b64(&read["record"]["payload"]),
        };
        let plain = open_record(&self.hpke, &patient, &record, &sealed, &wrapped)
            .expect("the data key was wrapped for this doctor and the payload opens");
        serde_json::from_str(&plain).expect("FHIR JSON")
    }

    /// An insurer publishes a one-item product covering `code` with `payout`.
    pub async fn publish(&self, code: &str, payout: u64) -> ProductId {
        let product = ProductId::random(&mut OsRng);
        let act = Action::PublishProduct(PublishProduct {
            product,
            name: format!("Cover for {code}"),
            currency: "EUR".into(),
            premium: 1_000,
            term_days: 365,
            items: vec![CoveredItem {
                code: code.into(),
                payout,
            }],
        });
        self.post("/v1/products", act).await.ok(StatusCode::CREATED);
        product
    }

    /// An insurer issues purchased `policy`: `E(M_i)` of each covered item
    /// under the patient's published Paillier key.
    pub async fn issue(&self, policy: PolicyId) {
        let state = self
            .get(&format!("/v1/policies/{policy}"))
            .await
            .ok(StatusCode::OK);
        assert_eq!(state["status"], "purchased", "{state}");
        let patient: ActorId = state["patient"]
            .as_str()
            .expect("the policy's patient")
            .parse()
            .expect("an actor id");
        let product = self
            .get(&format!(
                "/v1/products/{}",
                state["product"].as_str().expect("a product")
            ))
            .await
            .ok(StatusCode::OK);
        let pk = self.patient_keys(&patient).await.paillier;
        let covered: Vec<CoveredItem> =
            serde_json::from_value(product["items"].clone()).expect("covered items");
        let items = encrypt_policy_items(&pk, &covered, &mut OsRng).expect("covered codes");
        self.post(
            &format!("/v1/policies/{policy}/issue"),
            Action::IssuePolicy(IssuePolicy { policy, items }),
        )
        .await
        .ok(StatusCode::OK);
    }

    /// An insurer marks approved `claim` paid with `reference`.
    pub async fn try_mark_paid(&self, claim: ClaimId, reference: &str) -> Reply {
        self.post(
            &format!("/v1/claims/{claim}/paid"),
            Action::MarkPaid(MarkPaid {
                claim,
                reference: reference.into(),
            }),
        )
        .await
    }
}
