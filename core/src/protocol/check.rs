//! The phone's checks of what others encrypted under the patient's key:
//! a policy's `E(M_i)` against the product's covered items (policies issued
//! under the ledger's rules ≤ 1; under rules 2 there are none), and a record's
//! `E(code)` and `E(category)` against the code in its FHIR payload (a doctor
//! who encrypts another diagnosis than the one written is detected).

use super::fhir;
use crate::CryptoRngCore;
use crate::icd10::{CoveredCode, Icd10Category, Icd10Code};
use crate::ids::B64;
use crate::paillier::{Ciphertext, SecretKey};
use crate::statement::CoveredItem;

/// The outcome of checking a record's `E(code)` against its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// `E(code)` and `E(category)` decrypt to the payload's ICD-10-CM code.
    Verified {
        /// The code.
        code: Icd10Code,
    },
    /// They differ, or one side is missing or unreadable.
    Mismatch {
        /// The code text in the payload, if any.
        in_payload: Option<String>,
        /// What `E(code)` decrypts to, if a code.
        encrypted: Option<Icd10Code>,
    },
}

fn decrypt(sk: &SecretKey, bytes: &B64) -> Option<u64> {
    sk.public_key()
        .ciphertext_from_bytes(bytes.as_bytes())
        .and_then(|c| sk.decrypt(&c))
        .ok()
}

/// Checks a record's `E(code)` and `E(category)` against `fhir_json`.
pub fn check_record_code(
    sk: &SecretKey,
    code: &B64,
    code_category: &B64,
    fhir_json: &str,
) -> CodeCheck {
    let encrypted = decrypt(sk, code).and_then(|v| Icd10Code::decode(v).ok());
    let category = decrypt(sk, code_category).and_then(|v| Icd10Category::decode(v).ok());
    let in_payload = serde_json::from_str(fhir_json)
        .ok()
        .and_then(|v| fhir::condition_code(&v).map(str::to_owned));
    match (&in_payload, encrypted) {
        (Some(text), Some(code))
            if text.parse::<Icd10Code>().ok().as_ref() == Some(&code)
                && category.as_ref() == Some(&code.category()) =>
        {
            CodeCheck::Verified { code }
        }
        (_, encrypted) => CodeCheck::Mismatch {
            in_payload,
            encrypted,
        },
    }
}

/// Checks many records' `E(code)` and `E(category)` against their payloads
/// (`(code, code_category, fhir_json)` each), with the answers
/// [`check_record_code`] gives one by one. When every payload names a code,
/// one batch test ([`SecretKey::all_encrypt`]) checks them all for the price
/// of about three decryptions; only if it fails is each record decrypted, so
/// a mismatch still names what its `E(code)` decrypts to.
pub fn check_record_codes(
    sk: &SecretKey,
    records: &[(&B64, &B64, &str)],
    rng: &mut impl CryptoRngCore,
) -> Vec<CodeCheck> {
    let pk = sk.public_key();
    let claimed: Option<Vec<(Icd10Code, Ciphertext, Ciphertext)>> = records
        .iter()
        .map(|(code, category, fhir_json)| {
            let in_payload: Icd10Code = serde_json::from_str(fhir_json)
                .ok()
                .and_then(|v| fhir::condition_code(&v).and_then(|t| t.parse().ok()))?;
            let code = pk.ciphertext_from_bytes(code.as_bytes()).ok()?;
            let category = pk.ciphertext_from_bytes(category.as_bytes()).ok()?;
            Some((in_payload, code, category))
        })
        .collect();
    if let Some(claimed) = claimed {
        let claims: Vec<(&Ciphertext, u64)> = claimed
            .iter()
            .flat_map(|(code, c, k)| [(c, code.encode()), (k, code.category().encode())])
            .collect();
        if sk.all_encrypt(&claims, rng).unwrap_or(false) {
            return claimed
                .into_iter()
                .map(|(code, ..)| CodeCheck::Verified { code })
                .collect();
        }
    }
    records
        .iter()
        .map(|(code, category, fhir_json)| check_record_code(sk, code, category, fhir_json))
        .collect()
}

/// Indexes of the policy's `E(M_i)` that do not decrypt to the product's
/// covered item i (or have no counterpart); empty when the policy checks.
///
/// A policy without ciphertexts (issued under the ledger's rules 2) has
/// nothing of the insurer's to check: the contract computes each `E(M_i)`
/// from the product, so only items that are not codes are reported.
pub fn check_policy(sk: &SecretKey, items: &[CoveredItem], policy_items: &[B64]) -> Vec<u32> {
    let computed = policy_items.is_empty();
    (0..items.len().max(policy_items.len()))
        .filter(|&i| {
            let expected = items
                .get(i)
                .and_then(|item| item.code.parse::<CoveredCode>().ok())
                .map(|c| c.encode());
            if computed {
                return expected.is_none();
            }
            let found = policy_items.get(i).and_then(|ct| decrypt(sk, ct));
            expected.is_none() || expected != found
        })
        .filter_map(|i| u32::try_from(i).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::claim::encrypt_policy_items;
    use crate::protocol::fhir::condition;
    use crate::protocol::testkeys::{paillier as key, rng};

    fn encrypted(code: &str) -> (B64, B64) {
        let code: Icd10Code = code.parse().unwrap();
        let pk = key().public_key();
        let mut rng = rng(3);
        (
            B64(pk.encrypt(code.encode(), &mut rng).to_bytes()),
            B64(pk.encrypt(code.category().encode(), &mut rng).to_bytes()),
        )
    }

    /// Checks a record whose encrypted code is `sealed` against a FHIR
    /// condition carrying `in_payload`.
    fn check(sealed: &str, in_payload: &str, display: &str) -> CodeCheck {
        let (code, category) = encrypted(sealed);
        let fhir = condition("p", in_payload, display).to_string();
        check_record_code(key(), &code, &category, &fhir)
    }

    #[test]
    fn an_honest_record_verifies() {
        assert_eq!(
            check("E11.9", "E11.9", "diabetes"),
            CodeCheck::Verified {
                code: "E11.9".parse().unwrap()
            }
        );
    }

    #[test]
    fn a_lying_doctors_code_is_detected() {
        assert_eq!(
            check("E11.9", "I10", "hypertension"),
            CodeCheck::Mismatch {
                in_payload: Some("I10".into()),
                encrypted: Some("E11.9".parse().unwrap()),
            }
        );
        // The right code with another code's category is caught too.
        let (code, _) = encrypted("E11.9");
        let (_, other_category) = encrypted("I10");
        let honest = condition("p", "E11.9", "x").to_string();
        assert!(matches!(
            check_record_code(key(), &code, &other_category, &honest),
            CodeCheck::Mismatch { .. }
        ));
    }

    #[test]
    fn a_policy_checks_against_its_product_and_a_wrong_item_is_named() {
        let pk = key().public_key();
        let items = [
            CoveredItem {
                code: "E11".into(),
                payout: 1,
            },
            CoveredItem {
                code: "I10".into(),
                payout: 2,
            },
        ];
        let mut policy = encrypt_policy_items(pk, &items, &mut rng(1)).unwrap();
        assert!(check_policy(key(), &items, &policy).is_empty());
        policy.swap(0, 1);
        assert_eq!(check_policy(key(), &items, &policy), vec![0, 1]);
        policy.pop();
        assert_eq!(check_policy(key(), &items, &policy), vec![0, 1]);
        // Rules 2: no ciphertexts, the contract computes them; nothing to refuse.
        assert!(check_policy(key(), &items, &[]).is_empty());
    }

    #[test]
    fn the_batch_check_answers_as_the_one_by_one_check_does() {
        let codes = ["E11.9", "I10", "J45.909", "E11.9"];
        let enc: Vec<(B64, B64)> = codes.iter().map(|c| encrypted(c)).collect();
        let honest: Vec<String> = codes
            .iter()
            .map(|c| condition("p", c, "x").to_string())
            .collect();
        let rows = |payloads: &[String]| -> Vec<CodeCheck> {
            let records: Vec<(&B64, &B64, &str)> = enc
                .iter()
                .zip(payloads)
                .map(|((c, k), f)| (c, k, f.as_str()))
                .collect();
            check_record_codes(key(), &records, &mut rng(9))
        };
        let one_by_one = |payloads: &[String]| -> Vec<CodeCheck> {
            enc.iter()
                .zip(payloads)
                .map(|((c, k), f)| check_record_code(key(), c, k, f))
                .collect()
        };
        let all = rows(&honest);
        assert!(all.iter().all(|c| matches!(c, CodeCheck::Verified { .. })));
        assert_eq!(all, one_by_one(&honest));
        // One lying doctor among honest ones is named, the others verified.
        let mut lied = honest.clone();
        lied[2] = condition("p", "I10", "x").to_string();
        let checks = rows(&lied);
        assert_eq!(checks, one_by_one(&lied));
        assert_eq!(
            checks[2],
            CodeCheck::Mismatch {
                in_payload: Some("I10".into()),
                encrypted: Some("J45.909".parse().unwrap()),
            }
        );
        // A payload without a code falls back too.
        let mut blank = honest.clone();
        blank[0] = "{}".into();
        assert_eq!(rows(&blank), one_by_one(&blank));
        assert!(check_record_codes(key(), &[], &mut rng(9)).is_empty());
    }
}
