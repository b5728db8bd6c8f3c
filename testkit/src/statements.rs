//! Builders of the statements the tests send. Each composes through the
//! protocol steps of `carechain_core::protocol` — the one record-write
//! composer, the one key re-wrapper, the one claim prover — so a test world
//! sends exactly what a phone or a staff client would.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use carechain_core::envelope::WrappedKey;
use carechain_core::icd10::Icd10Code;
use carechain_core::identity::SigningKey;
use carechain_core::ids::{ActorId, B64, ClaimId, PolicyId, ProductId, RecordId, RequestId};
use carechain_core::protocol::claim::{
    Diagnosis, encrypt_policy_items, find_claim_item, non_proof,
};
use carechain_core::protocol::grant::rewrap_keys;
use carechain_core::protocol::write::RecordWrite;
use carechain_core::statement::{
    AccessAction, AccessRequest, Action, CoveredItem, DeclinePolicy, FileClaim, Grant, IssuePolicy,
    PublishProduct, PurchasePolicy, PurposeOfUse, RecordCategory, Scope, Statement, Treatment,
    WriteRecord,
};
use rand_core::CryptoRngCore;
use serde_json::Value;

use crate::{AUD, Actor};

/// How long a test statement is valid, in seconds.
pub const VALIDITY: i64 = 600;

/// The unsigned statement of `act` by the holder of `key`, issued at `now`.
pub fn statement(
    key: &SigningKey,
    act: Action,
    now: i64,
    rng: &mut impl CryptoRngCore,
) -> Statement {
    Statement::new(key.actor_id(), AUD, act, now, VALIDITY, rng)
}

/// `act` signed by the holder of `key`, issued at `now`: a compact JWS.
pub fn sign(key: &SigningKey, act: Action, now: i64, rng: &mut impl CryptoRngCore) -> String {
    statement(key, act, now, rng).sign(key).expect("sign")
}

/// `token` (a compact ES256 JWS) with its signature (r, s) replaced by the
/// twin (r, n − s): as valid a signature, high-S if the original was low-S.
pub fn high_s_twin(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').expect("a compact JWS");
    let bytes = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    let signature = p256::ecdsa::Signature::from_slice(&bytes).expect("an ES256 signature");
    let (r, s) = signature.split_scalars();
    let twin = p256::ecdsa::Signature::from_scalars(r, -s).expect("a valid twin");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(twin.to_bytes()))
}

/// `statement` signed by `key` (low-S) under the protected `header` as
/// given: a JWS a conforming signer could make that this crate's signer never does.
pub fn sign_with_header(statement: &Statement, header: &Value, key: &SigningKey) -> String {
    use p256::ecdsa::signature::Signer as _;
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).expect("header JSON")),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(statement).expect("claims JSON"))
    );
    let secret = p256::ecdsa::SigningKey::from_slice(key.to_bytes().as_slice()).expect("a key");
    let signature: p256::ecdsa::Signature = secret.sign(signing_input.as_bytes());
    let signature = signature.normalize_s().unwrap_or(signature);
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// A doctor's request for `actions` on `scope` of `patient`'s records, for treatment.
pub fn access_request(
    patient: &Actor,
    actions: Vec<AccessAction>,
    scope: Scope,
    duration_secs: i64,
    rng: &mut impl CryptoRngCore,
) -> AccessRequest {
    AccessRequest {
        request: RequestId::random(rng),
        patient: patient.id(),
        actions,
        scope,
        purpose: PurposeOfUse::Treat,
        duration_secs,
    }
}

/// What a grant gives: the request it answers, actions, scope and end.
#[derive(Clone, Debug)]
pub struct GrantTerms {
    /// The request answered.
    pub request: RequestId,
    /// The actions granted.
    pub actions: Vec<AccessAction>,
    /// The scope granted.
    pub scope: Scope,
    /// When access ends (Unix seconds).
    pub expires_at: i64,
}

/// The patient's grant of `terms` to `grantee`, with the patient's own
/// wrapped data keys re-wrapped for the grantee.
pub fn grant(
    patient: &Actor,
    grantee: &Actor,
    terms: GrantTerms,
    own_keys: Vec<(RecordId, WrappedKey)>,
    rng: &mut impl CryptoRngCore,
) -> Grant {
    let keys = rewrap_keys(
        &patient.hpke,
        &patient.id(),
        &grantee.hpke.public_key(),
        own_keys,
        rng,
    )
    .expect("rewrap");
    Grant {
        request: terms.request,
        actions: terms.actions,
        scope: terms.scope,
        expires_at: terms.expires_at,
        keys,
    }
}

/// The FHIR `Condition` the test records carry.
pub fn fhir(code: &str) -> Value {
    serde_json::json!({"resourceType": "Condition", "code": code})
}

/// What a test visit is billed by default: 1 000.00 EUR, above every test
/// product's payout, so a first claim pays the item's payout in full.
pub const BILLED: u64 = 100_000;

/// A visit on `date_of_service` billed [`BILLED`] EUR.
pub fn visit(date_of_service: i64) -> Treatment {
    Treatment {
        date_of_service,
        billed: BILLED,
        currency: "EUR".into(),
    }
}

/// A record of `patient` with diagnosis `code` documenting `treatment`, sealed for `readers`.
pub fn record_write(
    patient: &Actor,
    code: &str,
    category: RecordCategory,
    readers: &[(ActorId, B64)],
    treatment: Treatment,
    rng: &mut impl CryptoRngCore,
) -> WriteRecord {
    let parsed: Icd10Code = code.parse().expect("an ICD-10 code");
    let payload = fhir(&parsed.to_string()).to_string();
    RecordWrite {
        record: RecordId::random(rng),
        patient: &patient.id(),
        category,
        payload: payload.as_bytes(),
        code: &parsed,
        paillier_key: patient.paillier_public(),
        readers,
        treatment,
    }
    .compose(rng)
    .expect("compose the write")
}

/// Covered items from `(code, payout)` pairs.
pub fn covered(items: &[(&str, u64)]) -> Vec<CoveredItem> {
    items
        .iter()
        .map(|(code, payout)| CoveredItem {
            code: (*code).into(),
            payout: *payout,
        })
        .collect()
}

/// A product named "Test cover" covering `items` (code, payout) for a year.
pub fn product(items: &[(&str, u64)], rng: &mut impl CryptoRngCore) -> PublishProduct {
    PublishProduct {
        product: ProductId::random(rng),
        name: "Test cover".into(),
        currency: "EUR".into(),
        premium: 1_000,
        term_days: 365,
        items: covered(items),
    }
}

/// The patient's purchase of `product`.
pub fn purchase(product: ProductId, rng: &mut impl CryptoRngCore) -> PurchasePolicy {
    PurchasePolicy {
        policy: PolicyId::random(rng),
        product,
    }
}

/// The insurer's acceptance of purchase `policy` under rules 2: no ciphertexts.
pub fn accept(policy: PolicyId) -> IssuePolicy {
    IssuePolicy {
        policy,
        items: Vec::new(),
    }
}

/// The insurer's decline of purchase `policy` with `reason` (rules 2).
pub fn decline(policy: PolicyId, reason: &str) -> DeclinePolicy {
    DeclinePolicy {
        policy,
        reason: reason.into(),
    }
}

/// The insurer's honest `E(M_i)` of each covered item under the patient's
/// key: what an issue carries under rules ≤ 1.
pub fn policy_items(
    patient: &Actor,
    items: &[CoveredItem],
    rng: &mut impl CryptoRngCore,
) -> Vec<B64> {
    encrypt_policy_items(patient.paillier_public(), items, rng).expect("issue")
}

/// The honest phone's proof that the record's `diagnosis` is covered item
/// `item` (the product's `items`, the policy's `policy_items`: empty under
/// rules 2); when it is not, the phone has no proof and sends a non-proof.
pub fn claim_proof(
    patient: &Actor,
    item: u32,
    items: &[CoveredItem],
    policy_items: &[B64],
    diagnosis: Diagnosis<'_>,
    rng: &mut impl CryptoRngCore,
) -> B64 {
    let sk = patient.paillier_secret();
    let at = item as usize;
    let policy_item = if policy_items.is_empty() {
        Some(&[][..])
    } else {
        policy_items.get(at..=at)
    };
    let found = match (items.get(at..=at), policy_item) {
        (Some(one), Some(ct)) => find_claim_item(sk, one, ct, diagnosis).expect("prove"),
        _ => None,
    };
    match found {
        Some((_, proof)) => B64(proof),
        None => B64(non_proof(sk.public_key(), rng)),
    }
}

/// The patient's claim of `record` under item `item` of `policy`, with `proof`.
pub fn claim(
    policy: PolicyId,
    record: RecordId,
    item: u32,
    proof: B64,
    rng: &mut impl CryptoRngCore,
) -> FileClaim {
    FileClaim {
        claim: ClaimId::random(rng),
        policy,
        record,
        item,
        proof,
    }
}
