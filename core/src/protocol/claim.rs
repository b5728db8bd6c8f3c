//! The claim protocol's proof: for covered item i, `c = E(M_i) · D⁻¹ mod n²`
//! (= E(M_i − M), with D the record's `E(code)` or `E(category)` as the item
//! is a code or a category); the key holder can produce ρ with
//! `ρ^n ≡ c (mod n²)` exactly when M = M_i. [`verify_claim_item`] is the
//! contract's check; [`find_claim_item`] is the phone's search for an item it
//! can prove.
//!
//! Where `E(M_i)` comes from depends on the ledger's rules. Under rules 2 it
//! is [`item_ciphertext`], `(1+n)^{M_i} mod n²`, which the contract and the
//! phone compute from the product's public covered code: a policy carries no
//! ciphertexts. Under rules ≤ 1 the insurer encrypted it at issue
//! ([`encrypt_policy_items`]) and the policy carries it. Everywhere a
//! policy's ciphertexts are passed, an empty list means the former: an issued
//! policy holds either none or one per covered item.

use rand_core::CryptoRngCore;

use super::{ProtocolError, paillier};
use crate::icd10::CoveredCode;
use crate::ids::B64;
use crate::paillier::{Ciphertext, PaillierError, PublicKey, SecretKey};
use crate::statement::CoveredItem;

/// A record's two diagnosis ciphertexts, as the ledger stores them.
#[derive(Clone, Copy, Debug)]
pub struct Diagnosis<'a> {
    /// `E(code)`.
    pub code: &'a B64,
    /// `E(category)`.
    pub category: &'a B64,
}

impl Diagnosis<'_> {
    /// The ciphertext a claim for `covered` compares against.
    fn for_item(&self, pk: &PublicKey, covered: &CoveredCode) -> Result<Ciphertext, ProtocolError> {
        match covered {
            CoveredCode::Code(_) => parse(pk, "record code", self.code),
            CoveredCode::Category(_) => parse(pk, "record category", self.category),
        }
    }
}

fn parse(pk: &PublicKey, what: &'static str, bytes: &B64) -> Result<Ciphertext, ProtocolError> {
    pk.ciphertext_from_bytes(bytes.as_bytes())
        .map_err(paillier(what))
}

fn covered_code(index: usize, item: &CoveredItem) -> Result<CoveredCode, ProtocolError> {
    item.code
        .parse()
        .map_err(|source| ProtocolError::CoveredCode { index, source })
}

/// `E(M_i)` of a covered item as the contract computes it under rules 2:
/// `(1+n)^{M_i} mod n²`, with `M_i` the item's encoding, the same integer a
/// doctor encrypts for that code or category (see [`crate::icd10`]).
pub fn item_ciphertext(pk: &PublicKey, covered: &CoveredCode) -> Ciphertext {
    pk.encrypt_public(covered.encode())
}

/// `E(M_i)`: the policy's ciphertext `item` (rules ≤ 1), or the computed one when `None`.
fn expected(
    pk: &PublicKey,
    covered: &CoveredCode,
    item: Option<&B64>,
) -> Result<Ciphertext, ProtocolError> {
    match item {
        Some(item) => parse(pk, "policy item", item),
        None => Ok(item_ciphertext(pk, covered)),
    }
}

/// `E(M_i) · D⁻¹ mod n²`: encrypts zero exactly when the diagnosis is the item.
fn difference(
    pk: &PublicKey,
    covered: &CoveredCode,
    item: Option<&B64>,
    diagnosis: Diagnosis<'_>,
) -> Result<Ciphertext, ProtocolError> {
    let expected = expected(pk, covered, item)?;
    pk.sub(&expected, &diagnosis.for_item(pk, covered)?)
        .map_err(paillier("policy item"))
}

/// The contract's check: whether `proof` shows that the record's diagnosis
/// equals covered item `covered`, whose ciphertext in the policy is `item`
/// (`None` under rules 2: [`item_ciphertext`]). Any malformed input is a
/// failed proof.
pub fn verify_claim_item(
    pk: &PublicKey,
    covered: &CoveredCode,
    item: Option<&B64>,
    diagnosis: Diagnosis<'_>,
    proof: &[u8],
) -> bool {
    difference(pk, covered, item, diagnosis)
        .and_then(|c| {
            pk.zero_proof_from_bytes(proof)
                .and_then(|p| pk.verify_zero(&c, &p))
                .map_err(paillier("proof"))
        })
        .is_ok()
}

/// The first covered item the record's diagnosis equals, with its proof ρ;
/// `None` if it is none of them. `items` are the product's covered items and
/// `policy_items` their ciphertexts `E(M_i)` in the policy (rules ≤ 1), or
/// empty (rules 2: `E(M_i)` is [`item_ciphertext`]).
pub fn find_claim_item(
    sk: &SecretKey,
    items: &[CoveredItem],
    policy_items: &[B64],
    diagnosis: Diagnosis<'_>,
) -> Result<Option<(u32, Vec<u8>)>, ProtocolError> {
    let pk = sk.public_key();
    let computed = policy_items.is_empty();
    for (i, item) in items.iter().enumerate() {
        let ct = if computed {
            None
        } else {
            match policy_items.get(i) {
                Some(ct) => Some(ct),
                None => break,
            }
        };
        let Ok(covered) = covered_code(i, item) else {
            continue;
        };
        match sk.prove_zero(&difference(pk, &covered, ct, diagnosis)?) {
            Ok(proof) => {
                let index = u32::try_from(i).map_err(|_| ProtocolError::TooManyItems)?;
                return Ok(Some((index, proof.to_bytes())));
            }
            Err(PaillierError::NotZero) => continue,
            Err(source) => {
                return Err(ProtocolError::Paillier {
                    what: "proof",
                    source,
                });
            }
        }
    }
    Ok(None)
}

/// Random bytes of a proof's width that prove nothing: a claim filed with
/// them is recorded as rejected, and nothing is derived from the key.
pub fn non_proof(pk: &PublicKey, rng: &mut impl CryptoRngCore) -> Vec<u8> {
    let width = pk.bits().div_ceil(8);
    let mut bytes = vec![0u8; width];
    rng.fill_bytes(&mut bytes[1..]);
    // Below n (top byte 0) and non-zero.
    bytes[width - 1] |= 1;
    bytes
}

/// The insurer's `E(M_i)` for each covered item, under the patient's key:
/// what an issue carries under rules ≤ 1 only (rules 2 refuses it).
pub fn encrypt_policy_items(
    pk: &PublicKey,
    items: &[CoveredItem],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<B64>, ProtocolError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let code = covered_code(i, item)?;
            Ok(B64(pk.encrypt(code.encode(), rng).to_bytes()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icd10::Icd10Code;
    use crate::protocol::testkeys::{paillier as key, rng};

    fn item(code: &str) -> CoveredItem {
        CoveredItem {
            code: code.into(),
            payout: 100,
        }
    }

    /// A policy of `items` and a record of `diagnosis`: the policy's `E(M_i)`,
    /// the record's `E(code)` and `E(category)`, and what the phone finds.
    struct Case {
        policy: Vec<B64>,
        code: B64,
        category: B64,
        found: Option<(u32, Vec<u8>)>,
    }

    impl Case {
        /// A rules-1 policy: the insurer's `E(M_i)`.
        fn new(items: &[CoveredItem], diagnosis: &str) -> Case {
            let pk = key().public_key();
            let policy = encrypt_policy_items(pk, items, &mut rng(1)).unwrap();
            Case::with_policy(items, policy, diagnosis)
        }

        /// A rules-2 policy: no ciphertexts, `E(M_i)` computed.
        fn computed(items: &[CoveredItem], diagnosis: &str) -> Case {
            Case::with_policy(items, Vec::new(), diagnosis)
        }

        fn with_policy(items: &[CoveredItem], policy: Vec<B64>, diagnosis: &str) -> Case {
            let pk = key().public_key();
            let code: Icd10Code = diagnosis.parse().unwrap();
            let mut rng = rng(9);
            let code_ct = B64(pk.encrypt(code.encode(), &mut rng).to_bytes());
            let category = B64(pk.encrypt(code.category().encode(), &mut rng).to_bytes());
            let mut case = Case {
                policy,
                code: code_ct,
                category,
                found: None,
            };
            case.found = find_claim_item(key(), items, &case.policy, case.diagnosis()).unwrap();
            case
        }

        fn diagnosis(&self) -> Diagnosis<'_> {
            Diagnosis {
                code: &self.code,
                category: &self.category,
            }
        }

        /// The contract's check of `proof` for item `index` covering `covered`.
        fn verifies(&self, covered: &str, index: usize, proof: &[u8]) -> bool {
            let covered: CoveredCode = covered.parse().unwrap();
            let pk = key().public_key();
            verify_claim_item(
                pk,
                &covered,
                self.policy.get(index),
                self.diagnosis(),
                proof,
            )
        }
    }

    #[test]
    fn the_matching_item_is_found_and_its_proof_verifies() {
        let case = Case::new(&[item("I10"), item("E11")], "E11.9");
        let (index, proof) = case.found.clone().unwrap();
        assert_eq!(index, 1);
        assert!(case.verifies("E11", 1, &proof));
    }

    #[test]
    fn a_proof_for_the_wrong_item_is_refused_by_the_contracts_check() {
        let case = Case::new(&[item("I10"), item("E11.9")], "E11.9");
        let (index, proof) = case.found.clone().unwrap();
        assert_eq!(index, 1);
        assert!(!case.verifies("I10", 0, &proof));
        let junk = non_proof(key().public_key(), &mut rng(2));
        assert!(!case.verifies("E11.9", 1, &junk));
        assert!(!case.verifies("E11.9", 1, b"short"));
    }

    #[test]
    fn an_uncovered_diagnosis_finds_no_item() {
        assert_eq!(Case::new(&[item("I10")], "E11.9").found, None);
        assert_eq!(Case::computed(&[item("I10")], "E11.9").found, None);
    }

    #[test]
    fn with_computed_items_the_matching_item_is_found_and_only_its_proof_verifies() {
        let items = [item("I10"), item("E11"), item("E11.9")];
        let case = Case::computed(&items, "E11.9");
        let (index, proof) = case.found.clone().unwrap();
        assert_eq!(index, 1, "the category comes first");
        assert!(case.verifies("E11", 1, &proof));
        assert!(
            !case.verifies("E11.9", 2, &proof),
            "a category's ρ is not the code's"
        );
        assert!(!case.verifies("I10", 0, &proof));
        let for_code = Case::computed(&[item("E11.9")], "E11.9").found.unwrap();
        assert!(case.verifies("E11.9", 2, &for_code.1));
        // Another diagnosis of the same category proves the category, not the code.
        let other = Case::computed(&items, "E11.65");
        assert_eq!(other.found.as_ref().map(|f| f.0), Some(1));
        let swapped = Case::computed(&[item("E11.9")], "E11.65");
        assert_eq!(swapped.found, None);
    }

    #[test]
    fn the_computed_item_is_what_the_insurer_would_have_encrypted() {
        let sk = key();
        for code in ["I10", "E11", "E11.9", "Z00.00"] {
            let covered: CoveredCode = code.parse().unwrap();
            let ct = item_ciphertext(sk.public_key(), &covered);
            assert_eq!(sk.decrypt(&ct).unwrap(), covered.encode(), "{code}");
        }
    }

    #[test]
    fn issuing_refuses_an_item_that_is_not_a_code() {
        let pk = key().public_key();
        let err = encrypt_policy_items(pk, &[item("I10"), item("nope")], &mut rng(1));
        assert!(matches!(
            err,
            Err(ProtocolError::CoveredCode { index: 1, .. })
        ));
    }
}
