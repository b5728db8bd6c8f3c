//! Passphrase handling shared by every passphrase-locked container: Unicode
//! normalisation and the minimum strength of new passphrases.
//!
//! **Normalisation.** The same text typed on two platforms may arrive as
//! different code points: iOS keyboards and file names favour decomposed
//! forms (NFD, `e` + U+0301), Android and most web input composed ones (NFC,
//! U+00E9). Argon2 sees bytes, so without normalisation a backup made on one
//! phone would be a "wrong passphrase" on the other. Every passphrase is
//! therefore NFKC-normalised (RFC 8265's rule for passwords, which also
//! folds compatibility forms such as full-width digits) before it is
//! stretched, when sealing and when opening.
//!
//! **Files sealed before normalisation.** Earlier versions stretched the raw
//! UTF-8 bytes. On open, when NFKC changes the passphrase, the normalised
//! form is tried first and, if it does not open the file, the raw bytes are
//! tried as well (a second argon2 run, only in that case). The next seal
//! writes the normalised form, so a wallet migrates the first time the app
//! re-seals it.
//!
//! **Minimum strength.** A new wallet file or backup needs a passphrase of at
//! least [`MIN_PASSPHRASE_CHARS`] characters (counted after normalisation).
//! That is the only rule enforced; it does not make a weak passphrase strong.
//! Backups leave the phone and can be attacked offline at argon2's cost, so
//! apps should ask for a generated passphrase of at least four random words
//! from a large list (about 50 bits), or at least 12 random characters, and
//! never a passphrase reused elsewhere. Opening is never refused for length,
//! so files sealed under an older, shorter rule still open.

use std::borrow::Cow;

use icu_normalizer::ComposingNormalizerBorrowed;
use zeroize::Zeroizing;

use super::WalletError;

/// Fewest characters (Unicode scalar values, after NFKC) a new passphrase may have.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// The passphrases to try, in order: the NFKC form, then (only if NFKC changed
/// it) the raw text for files sealed before normalisation. Copies are wiped on drop.
pub(crate) struct Candidates<'a> {
    /// The NFKC form.
    pub(crate) normalized: Zeroizing<String>,
    /// The raw text, if it differs from the NFKC form.
    pub(crate) legacy: Option<&'a str>,
}

/// NFKC form of `passphrase` in a buffer wiped on drop.
pub(crate) fn normalize(passphrase: &str) -> Zeroizing<String> {
    match ComposingNormalizerBorrowed::new_nfkc().normalize(passphrase) {
        Cow::Borrowed(same) => Zeroizing::new(same.to_owned()),
        Cow::Owned(changed) => Zeroizing::new(changed),
    }
}

/// The candidates for opening a file sealed under `passphrase`.
pub(crate) fn candidates(passphrase: &str) -> Candidates<'_> {
    let normalized = normalize(passphrase);
    let legacy = (normalized.as_str() != passphrase).then_some(passphrase);
    Candidates { normalized, legacy }
}

/// The NFKC form of a passphrase for sealing something new, after the length rule.
pub(crate) fn for_new_seal(passphrase: &str) -> Result<Zeroizing<String>, WalletError> {
    if passphrase.is_empty() {
        return Err(WalletError::EmptyPassphrase);
    }
    let normalized = normalize(passphrase);
    let found = normalized.chars().count();
    if found < MIN_PASSPHRASE_CHARS {
        return Err(WalletError::WeakPassphrase {
            min_chars: MIN_PASSPHRASE_CHARS,
            found_chars: found,
        });
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_and_decomposed_text_normalise_alike() {
        let composed = "caf\u{e9} au lait";
        let decomposed = "cafe\u{301} au lait";
        assert_ne!(composed, decomposed);
        assert_eq!(*normalize(composed), *normalize(decomposed));
        assert_eq!(*normalize(decomposed), composed);
        // Compatibility forms fold too: full-width digits become ASCII.
        assert_eq!(*normalize("\u{ff11}\u{ff12}"), "12");
    }

    #[test]
    fn only_a_changed_passphrase_has_a_legacy_candidate() {
        assert_eq!(candidates("plain ascii passphrase").legacy, None);
        let decomposed = "cafe\u{301} au lait";
        let c = candidates(decomposed);
        assert_eq!(c.legacy, Some(decomposed));
        assert_eq!(*c.normalized, "caf\u{e9} au lait");
    }

    #[test]
    fn new_passphrases_need_the_minimum_length_after_normalisation() {
        assert!(matches!(
            for_new_seal(""),
            Err(WalletError::EmptyPassphrase)
        ));
        // 12 code points as typed (the é decomposed), 11 characters after NFKC.
        let typed = "cafe\u{301} cr\u{e8}mes";
        assert_eq!(typed.chars().count(), 12);
        let err = for_new_seal(typed).unwrap_err();
        assert!(matches!(
            err,
            WalletError::WeakPassphrase {
                min_chars: 12,
                found_chars: 11
            }
        ));
        assert_eq!(
            err.to_string(),
            "the passphrase must have at least 12 characters, found 11"
        );
        assert!(for_new_seal("twelve chars").is_ok());
    }
}
