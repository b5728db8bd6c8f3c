//! Insurance: products, purchase, the insurer's acceptance (issue) or
//! decline of a purchase, and the automatic claim decision of the paper's
//! protocol, made sound with a zero proof.
//!
//! A claim names a policy, a record and a covered item i. The contract takes
//! `E(M_i)` and `D` from the record — the full code's ciphertext if item i is
//! a full code, the category's if it is a category — computes
//! `c = E(M_i)·D⁻¹ mod n²` and accepts iff `ρ^n ≡ c (mod n²)`, which (the
//! patient's key having passed the key-correctness proof) holds exactly when
//! `M = M_i`. Nobody decrypts anything.
//!
//! # Where `E(M_i)` comes from (storage rules)
//!
//! Under rules 2 the contract computes `E(M_i) = (1+n)^{M_i} mod n²` from
//! the product's public covered code (`claim::item_ciphertext`): the issue
//! statement carries no ciphertexts, so no insurer can issue a policy whose
//! `E(M_i)` is wrong and that therefore never pays. It is still sound:
//! `c = (1+n)^{M_i−M}·r⁻ⁿ` (r the randomness of the doctor's `D`) is an n-th
//! residue exactly when `M = M_i`. An insurer may also decline a purchase
//! with a reason. Under rules ≤ 1 (chains started before) the issue carries
//! the insurer's `E(M_i)` per item and the claim check uses it, as it always
//! did, so `verify` replays those chains unchanged; there is no decline.
//!
//! # One payment per treatment (rules 3)
//!
//! A record documents one treatment with its doctor-signed billed amount.
//! Under rules 3 the contract keeps what has been paid against each record
//! (`paid/{record}`) across every policy and insurer of the patient: an
//! approved claim pays `min(item payout, billed − already paid)`, a claim
//! when nothing remains is REJECTED `treatment_paid_in_full`, and one in a
//! currency other than the billed one `currency_mismatch`. The first
//! decision is primary; a second insurer pays at most the remainder. A
//! patient holds at most one active (purchased or issued and in term) policy
//! of a product: a second purchase is refused `policy_already_active`.

use carechain_core::icd10::CoveredCode;
use carechain_core::ids::{PolicyId, RecordId};
use carechain_core::ledger::{ClaimEvent, Event, PolicyDecline, PolicyEvent, ProductEvent};
use carechain_core::protocol::claim::item_ciphertext;
use carechain_core::statement::{
    DeclinePolicy, FileClaim, IssuePolicy, MarkPaid, PublishProduct, PurchasePolicy, Role,
};

use crate::consent::load_patient;
use crate::contract::{Tx, Verified, respond};
use crate::error::ContractError;
use crate::model::{
    ClaimState, Decision, Payment, PolicyState, PolicyStatus, ProductState, RecordState,
    RejectionReason, keys,
};
use crate::records::{TREATMENT_RULES, ciphertext, paillier_key, treatment_of};

/// Most covered items in one product.
const MAX_ITEMS: usize = 64;
/// Longest product term: ten years.
const MAX_TERM_DAYS: u32 = 3660;
/// Longest reason for a decline, in characters.
const MAX_DECLINE_REASON: usize = 500;
/// The storage rules from which the contract computes `E(M_i)` and insurers may decline.
const COMPUTED_ITEMS_RULES: u32 = 2;
/// The storage rules from which a treatment is paid at most its billed
/// amount across all policies, and a product is held once at a time.
const ONE_PAYMENT_RULES: u32 = 3;

/// `publish_product`: an insurer publishes a product.
pub(crate) fn publish(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &PublishProduct,
) -> Result<Vec<u8>, ContractError> {
    let insurer = verified
        .signer_as(Role::Insurer, "publish products")?
        .actor
        .clone();
    let name_len = body.name.trim().chars().count();
    if name_len == 0 || name_len > 200 {
        return Err(ContractError::invalid(
            "name",
            "expected 1 to 200 characters",
        ));
    }
    if body.currency.len() != 3 || !body.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ContractError::invalid(
            "currency",
            format!(
                "expected an ISO 4217 code like EUR, found {:?}",
                body.currency
            ),
        ));
    }
    if !(1..=MAX_TERM_DAYS).contains(&body.term_days) {
        return Err(ContractError::invalid(
            "term_days",
            format!("expected 1..={MAX_TERM_DAYS}, found {}", body.term_days),
        ));
    }
    if body.items.is_empty() || body.items.len() > MAX_ITEMS {
        return Err(ContractError::invalid(
            "items",
            format!(
                "expected 1 to {MAX_ITEMS} covered items, found {}",
                body.items.len()
            ),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for item in &body.items {
        let code: CoveredCode =
            item.code
                .parse()
                .map_err(|err: carechain_core::icd10::Icd10Error| {
                    ContractError::invalid("items", err.to_string())
                })?;
        if !seen.insert(code.encode()) {
            return Err(ContractError::invalid(
                "items",
                format!("{code} is listed twice"),
            ));
        }
        if item.payout == 0 {
            return Err(ContractError::invalid(
                "items",
                format!("expected a positive payout for {code}"),
            ));
        }
    }
    let key = keys::product(body.product);
    if tx.exists(&key)? {
        return Err(ContractError::exists("product", body.product));
    }
    let state = ProductState {
        product: body.product,
        insurer: insurer.clone(),
        name: body.name.trim().to_owned(),
        currency: body.currency.clone(),
        premium: body.premium,
        term_days: body.term_days,
        items: body.items.clone(),
        published_at: tx.now(),
    };
    tx.put(&key, &state)?;
    tx.emit(Event::ProductPublished(ProductEvent {
        insurer: insurer.clone(),
        product: body.product,
    }))?;
    respond(&state)
}

/// `purchase_policy`: a patient buys a product.
pub(crate) fn purchase(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &PurchasePolicy,
) -> Result<Vec<u8>, ContractError> {
    let patient = verified
        .signer_as(Role::Patient, "buy policies")?
        .actor
        .clone();
    let product: ProductState = tx.load(&keys::product(body.product), "product", body.product)?;
    let key = keys::policy(body.policy);
    if tx.exists(&key)? {
        return Err(ContractError::exists("policy", body.policy));
    }
    let insurer: crate::model::Identity = tx.load(
        &keys::identity(&product.insurer),
        "insurer",
        &product.insurer,
    )?;
    if !insurer.active {
        return Err(ContractError::Conflict(format!(
            "insurer {} is suspended",
            product.insurer
        )));
    }
    if verified.rules >= ONE_PAYMENT_RULES {
        refuse_a_second_active(tx, &patient, body.product)?;
        tx.put(&keys::held_product(&patient, body.product), &body.policy)?;
    }
    let state = PolicyState {
        policy: body.policy,
        product: body.product,
        patient: patient.clone(),
        insurer: product.insurer.clone(),
        status: PolicyStatus::Purchased,
        purchased_at: tx.now(),
        starts_at: None,
        ends_at: None,
        items: Vec::new(),
        declined: None,
    };
    tx.put(&key, &state)?;
    tx.index(&keys::patient_policy(&patient, body.policy))?;
    tx.index(&keys::insurer_policy(&product.insurer, body.policy))?;
    tx.emit(Event::PolicyPurchased(PolicyEvent {
        policy: body.policy,
        product: body.product,
        patient: patient.clone(),
        insurer: product.insurer.clone(),
    }))?;
    respond(&state)
}

/// Refuses a purchase of `product` while `patient` holds an active policy of
/// it: purchased and awaiting the insurer, or issued and in its term.
fn refuse_a_second_active(
    tx: &mut Tx<'_>,
    patient: &carechain_core::ids::ActorId,
    product: carechain_core::ids::ProductId,
) -> Result<(), ContractError> {
    let Some(held) = tx.get::<PolicyId>(&keys::held_product(patient, product))? else {
        return Ok(());
    };
    let policy: PolicyState = tx.load(&keys::policy(held), "policy", held)?;
    let active = match policy.status {
        PolicyStatus::Purchased => true,
        PolicyStatus::Issued => policy.ends_at.is_some_and(|end| tx.now() <= end),
        PolicyStatus::Declined => false,
    };
    if active {
        return Err(ContractError::PolicyAlreadyActive {
            product,
            policy: held,
        });
    }
    Ok(())
}

/// What has been paid so far against `record` (rules ≥ 3), in its billed currency.
fn paid_for(tx: &mut Tx<'_>, record: RecordId) -> Result<u64, ContractError> {
    Ok(tx.get::<u64>(&keys::paid(record))?.unwrap_or(0))
}

/// The purchase `policy` of one of `insurer`'s products, still awaiting the
/// insurer's answer, and its key; another insurer's is not found.
fn awaiting_answer(
    tx: &mut Tx<'_>,
    insurer: &carechain_core::ids::ActorId,
    id: carechain_core::ids::PolicyId,
) -> Result<(String, PolicyState), ContractError> {
    let key = keys::policy(id);
    let policy: PolicyState = tx.load(&key, "policy", id)?;
    if &policy.insurer != insurer {
        return Err(ContractError::not_found("policy", id));
    }
    match policy.status {
        PolicyStatus::Purchased => Ok((key, policy)),
        PolicyStatus::Issued => Err(ContractError::Conflict(format!(
            "policy {id} is already issued"
        ))),
        PolicyStatus::Declined => Err(ContractError::Conflict(format!("policy {id} was declined"))),
    }
}

/// `issue_policy`: the insurer accepts a purchase; the policy is in force
/// from now for the product's term. Under rules 2 the statement carries no
/// ciphertexts; under rules ≤ 1 one `E(M_i)` per item, which must parse
/// under the patient's key and is kept for the claim check.
pub(crate) fn issue(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &IssuePolicy,
) -> Result<Vec<u8>, ContractError> {
    let insurer = verified
        .signer_as(Role::Insurer, "issue policies")?
        .actor
        .clone();
    let (key, mut policy) = awaiting_answer(tx, &insurer, body.policy)?;
    let product: ProductState =
        tx.load(&keys::product(policy.product), "product", policy.product)?;
    if verified.rules >= COMPUTED_ITEMS_RULES {
        if !body.items.is_empty() {
            return Err(ContractError::invalid(
                "items",
                format!(
                    "expected no ciphertexts (the contract computes E(M_i) from the product), \
                     found {}",
                    body.items.len()
                ),
            ));
        }
    } else {
        if body.items.len() != product.items.len() {
            return Err(ContractError::invalid(
                "items",
                format!(
                    "expected one ciphertext per covered item ({}), found {}",
                    product.items.len(),
                    body.items.len()
                ),
            ));
        }
        let patient = load_patient(tx, &policy.patient)?;
        let paillier = paillier_key(&patient)?;
        for item in &body.items {
            ciphertext(&paillier, "items", item)?;
        }
    }
    let now = tx.now();
    policy.status = PolicyStatus::Issued;
    policy.starts_at = Some(now);
    policy.ends_at = Some(now.saturating_add(i64::from(product.term_days) * 86_400));
    policy.items = body.items.clone();
    tx.put(&key, &policy)?;
    tx.emit(Event::PolicyIssued(PolicyEvent {
        policy: body.policy,
        product: policy.product,
        patient: policy.patient.clone(),
        insurer: insurer.clone(),
    }))?;
    respond(&policy)
}

/// `decline_policy` (rules 2): the insurer declines a purchase with a
/// reason; the policy is never in force.
pub(crate) fn decline(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &DeclinePolicy,
) -> Result<Vec<u8>, ContractError> {
    if verified.rules < COMPUTED_ITEMS_RULES {
        return Err(ContractError::BadArguments(format!(
            "decline_policy needs storage rules {COMPUTED_ITEMS_RULES}, this ledger runs rules {}",
            verified.rules
        )));
    }
    let insurer = verified
        .signer_as(Role::Insurer, "decline policies")?
        .actor
        .clone();
    let reason = body.reason.trim();
    let reason_len = reason.chars().count();
    if reason_len == 0 || reason_len > MAX_DECLINE_REASON {
        return Err(ContractError::invalid(
            "reason",
            format!("expected 1 to {MAX_DECLINE_REASON} characters, found {reason_len}"),
        ));
    }
    let (key, mut policy) = awaiting_answer(tx, &insurer, body.policy)?;
    policy.status = PolicyStatus::Declined;
    policy.declined = Some(PolicyDecline {
        reason: reason.to_owned(),
        declined_at: tx.now(),
    });
    tx.put(&key, &policy)?;
    tx.emit(Event::PolicyDeclined(PolicyEvent {
        policy: body.policy,
        product: policy.product,
        patient: policy.patient.clone(),
        insurer,
    }))?;
    respond(&policy)
}

/// The decision on a claim, checks in a fixed order.
fn decide(
    tx: &mut Tx<'_>,
    rules: u32,
    body: &FileClaim,
    policy: &PolicyState,
    product: &ProductState,
) -> Result<Decision, ContractError> {
    let reject = |reason| Ok(Decision::Rejected { reason });
    let now = tx.now();
    if tx.exists(&keys::claimed(body.policy, body.record))? {
        return reject(RejectionReason::AlreadyClaimed);
    }
    let (Some(starts_at), Some(ends_at)) = (policy.starts_at, policy.ends_at) else {
        return reject(RejectionReason::PolicyNotActive);
    };
    if policy.status != PolicyStatus::Issued || now > ends_at {
        return reject(RejectionReason::PolicyNotActive);
    }
    let index = usize::try_from(body.item).unwrap_or(usize::MAX);
    // Rules ≤ 1: the insurer's E(M_i) from the policy; rules 2: computed below.
    let item_ct = if rules >= COMPUTED_ITEMS_RULES {
        None
    } else {
        match policy.items.get(index) {
            Some(ct) => Some(ct),
            None => return reject(RejectionReason::UnknownItem),
        }
    };
    let Some(item) = product.items.get(index) else {
        return reject(RejectionReason::UnknownItem);
    };
    let record: RecordState = tx.load(&keys::record(body.record), "record", body.record)?;
    if record.patient != policy.patient {
        return reject(RejectionReason::RecordNotPatients);
    }
    // Rules ≥ 3: the doctor-signed date of service; before, the write's time.
    let treated_at = if rules >= TREATMENT_RULES {
        treatment_of(&record)?.date_of_service
    } else {
        record.written_at
    };
    if treated_at < starts_at || treated_at > ends_at {
        return reject(RejectionReason::RecordOutsideTerm);
    }
    // Rules ≥ 3: at most the billed amount in total, across every policy.
    let remaining = if rules >= ONE_PAYMENT_RULES {
        let facts = treatment_of(&record)?;
        if facts.currency != product.currency {
            return reject(RejectionReason::CurrencyMismatch);
        }
        let remaining = facts.billed.saturating_sub(paid_for(tx, body.record)?);
        if remaining == 0 {
            return reject(RejectionReason::TreatmentPaidInFull);
        }
        Some(remaining)
    } else {
        None
    };
    let covered: CoveredCode =
        item.code
            .parse()
            .map_err(
                |err: carechain_core::icd10::Icd10Error| ContractError::CorruptState {
                    key: keys::product(product.product),
                    reason: err.to_string(),
                },
            )?;
    let patient = load_patient(tx, &policy.patient)?;
    let paillier = paillier_key(&patient)?;
    let expected = match item_ct {
        Some(ct) => ciphertext(&paillier, "policy item", ct)?,
        None => item_ciphertext(&paillier, &covered),
    };
    let diagnosis = match covered {
        CoveredCode::Code(_) => ciphertext(&paillier, "record code", &record.code)?,
        CoveredCode::Category(_) => {
            ciphertext(&paillier, "record category", &record.code_category)?
        }
    };
    let Ok(difference) = paillier.sub(&expected, &diagnosis) else {
        return reject(RejectionReason::ProofFailed);
    };
    let verified = paillier
        .zero_proof_from_bytes(body.proof.as_bytes())
        .and_then(|proof| paillier.verify_zero(&difference, &proof));
    if verified.is_err() {
        return reject(RejectionReason::ProofFailed);
    }
    Ok(Decision::Approved {
        payout: remaining.map_or(item.payout, |left| item.payout.min(left)),
        currency: product.currency.clone(),
    })
}

/// `file_claim`: the patient files a claim; the contract decides at once.
pub(crate) fn claim(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &FileClaim,
) -> Result<Vec<u8>, ContractError> {
    let patient = verified
        .signer_as(Role::Patient, "file claims")?
        .actor
        .clone();
    let key = keys::claim(body.claim);
    if tx.exists(&key)? {
        return Err(ContractError::exists("claim", body.claim));
    }
    let policy: PolicyState = tx.load(&keys::policy(body.policy), "policy", body.policy)?;
    if policy.patient != patient {
        return Err(ContractError::not_found("policy", body.policy));
    }
    if !tx.exists(&keys::record(body.record))? {
        return Err(ContractError::not_found("record", body.record));
    }
    let product: ProductState =
        tx.load(&keys::product(policy.product), "product", policy.product)?;
    let decision = decide(tx, verified.rules, body, &policy, &product)?;
    if let Decision::Approved { payout, .. } = decision {
        tx.put(&keys::claimed(body.policy, body.record), &body.claim)?;
        if verified.rules >= ONE_PAYMENT_RULES {
            let paid = paid_for(tx, body.record)?.saturating_add(payout);
            tx.put(&keys::paid(body.record), &paid)?;
        }
    }
    let state = ClaimState {
        claim: body.claim,
        policy: body.policy,
        record: body.record,
        item: body.item,
        patient: patient.clone(),
        insurer: policy.insurer.clone(),
        decision,
        decided_at: tx.now(),
        payment: None,
    };
    tx.put(&key, &state)?;
    tx.index(&keys::patient_claim(&patient, body.claim))?;
    tx.index(&keys::insurer_claim(&policy.insurer, body.claim))?;
    tx.emit(Event::ClaimDecided(ClaimEvent {
        claim: body.claim,
        policy: body.policy,
        patient: patient.clone(),
        insurer: policy.insurer.clone(),
        decision: state.decision.clone(),
    }))?;
    respond(&state)
}

/// `mark_paid`: the insurer marks an approved claim paid.
pub(crate) fn mark_paid(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &MarkPaid,
) -> Result<Vec<u8>, ContractError> {
    let insurer = verified
        .signer_as(Role::Insurer, "mark claims paid")?
        .actor
        .clone();
    let key = keys::claim(body.claim);
    let mut state: ClaimState = tx.load(&key, "claim", body.claim)?;
    if state.insurer != insurer {
        return Err(ContractError::not_found("claim", body.claim));
    }
    if !matches!(state.decision, Decision::Approved { .. }) {
        return Err(ContractError::Conflict(format!(
            "claim {} was rejected and cannot be paid",
            body.claim
        )));
    }
    if state.payment.is_some() {
        return Err(ContractError::Conflict(format!(
            "claim {} is already paid",
            body.claim
        )));
    }
    let reference = body.reference.trim();
    if reference.is_empty() || reference.chars().count() > 128 {
        return Err(ContractError::invalid(
            "reference",
            "expected 1 to 128 characters",
        ));
    }
    state.payment = Some(Payment {
        reference: reference.to_owned(),
        paid_at: tx.now(),
    });
    tx.put(&key, &state)?;
    tx.emit(Event::ClaimPaid(ClaimEvent {
        claim: body.claim,
        policy: state.policy,
        patient: state.patient.clone(),
        insurer: insurer.clone(),
        decision: state.decision.clone(),
    }))?;
    respond(&state)
}
