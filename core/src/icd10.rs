//! ICD-10-CM diagnosis codes: validation and the injective integer encoding
//! that the claim protocol encrypts with Paillier.
//!
//! # Syntax
//!
//! A code is a 3-character category — a letter, a digit, then a digit or a
//! letter (`E11`, `C4A`) — optionally followed by a dot and 1 to 4 further
//! characters, each a digit or a letter (`E11.9`, `C50.912`, `S72.001A`,
//! `T36.0X1A`). Input is normalised: surrounding whitespace is trimmed, letters
//! are upper-cased, and the dot may be left out (`e119` is `E11.9`), as in the
//! CMS code files. This checks the shape of a code, not whether CMS currently
//! lists it; that depends on the release year and is the doctor's tool's job.
//!
//! # Encoding
//!
//! Each of the seven positions is a base-37 digit: absent = 0, `0`–`9` = 1–10,
//! `A`–`Z` = 11–36. Absent positions only ever trail, so the seven digits
//! determine the code and the map is injective. A domain tag in the next digit
//! keeps full codes and categories apart:
//!
//! ```text
//! encode(code)     = 1·37⁷ + Σ dᵢ·37^(6−i)      (all present characters)
//! encode(category) = 2·37⁷ + Σ dᵢ·37^(6−i)      (first three characters only)
//! ```
//!
//! so `E11` as a category never equals `E11` as a code, and every value is
//! below 3·37⁷ < 2³⁹ — far below any Paillier modulus.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Radix of one code position.
const RADIX: u64 = 37;
/// 37⁷: the weight of the domain tag.
const TAG_WEIGHT: u64 = RADIX.pow(7);
/// Domain tag of full codes.
const CODE_TAG: u64 = 1;
/// Domain tag of categories.
const CATEGORY_TAG: u64 = 2;

/// What is wrong with a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Icd10Problem {
    /// Fewer than 3 characters.
    TooShort,
    /// More than 7 characters besides the dot.
    TooLong,
    /// The first character is not a letter.
    FirstNotLetter,
    /// The second character is not a digit.
    SecondNotDigit,
    /// A character that is neither a letter nor a digit, at a 1-based position.
    BadCharacter {
        /// 1-based position in the normalised code (dot not counted).
        position: usize,
    },
    /// The dot is somewhere other than after the third character, or repeated.
    MisplacedDot,
    /// A dot with nothing after it.
    EmptyAfterDot,
    /// A category was expected but the code has characters after the category.
    NotACategory,
    /// An integer that no code or category encodes to.
    NotAnEncoding,
}

impl fmt::Display for Icd10Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Icd10Problem::TooShort => f.write_str("expected at least 3 characters"),
            Icd10Problem::TooLong => f.write_str("expected at most 7 characters besides the dot"),
            Icd10Problem::FirstNotLetter => f.write_str("expected a letter as the first character"),
            Icd10Problem::SecondNotDigit => f.write_str("expected a digit as the second character"),
            Icd10Problem::BadCharacter { position } => {
                write!(f, "expected a letter or digit at position {position}")
            }
            Icd10Problem::MisplacedDot => {
                f.write_str("expected at most one dot, right after the 3-character category")
            }
            Icd10Problem::EmptyAfterDot => f.write_str("expected 1 to 4 characters after the dot"),
            Icd10Problem::NotACategory => {
                f.write_str("expected a 3-character category, found a full code")
            }
            Icd10Problem::NotAnEncoding => f.write_str("no ICD-10-CM code encodes to this value"),
        }
    }
}

/// A malformed ICD-10-CM code, naming the code and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ICD-10-CM code {code:?}: {problem}")]
pub struct Icd10Error {
    /// The input, truncated to 32 characters.
    pub code: String,
    /// What is wrong.
    pub problem: Icd10Problem,
}

impl Icd10Error {
    fn new(code: &str, problem: Icd10Problem) -> Self {
        Icd10Error {
            code: code.chars().take(32).collect(),
            problem,
        }
    }
}

/// A syntactically valid ICD-10-CM code, normalised (`E11.9`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Icd10Code {
    /// The characters without the dot, upper case, 3 to 7 of them.
    chars: String,
}

/// A 3-character ICD-10-CM category (`E11`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Icd10Category {
    chars: String,
}

/// What an insurance product covers: a full code or a whole category.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CoveredCode {
    /// Exactly this code.
    Code(Icd10Code),
    /// Any code in this category.
    Category(Icd10Category),
}

fn digit_value(c: u8) -> u64 {
    match c {
        b'0'..=b'9' => u64::from(c - b'0') + 1,
        b'A'..=b'Z' => u64::from(c - b'A') + 11,
        _ => 0,
    }
}

fn digit_char(v: u64) -> Option<char> {
    match v {
        1..=10 => Some(char::from(b'0' + (v - 1) as u8)),
        11..=36 => Some(char::from(b'A' + (v - 11) as u8)),
        _ => None,
    }
}

/// Base-37 value of up to seven characters, left-aligned.
fn positional(chars: &str) -> u64 {
    let mut value = 0;
    for i in 0..7 {
        value = value * RADIX + chars.as_bytes().get(i).copied().map_or(0, digit_value);
    }
    value
}

/// Inverse of [`positional`]; `None` if a gap is followed by a character.
fn from_positional(mut value: u64) -> Option<String> {
    let mut digits = [0u64; 7];
    for slot in digits.iter_mut().rev() {
        *slot = value % RADIX;
        value /= RADIX;
    }
    let len = digits.iter().take_while(|&&d| d != 0).count();
    if digits[len..].iter().any(|&d| d != 0) {
        return None;
    }
    digits[..len].iter().map(|&d| digit_char(d)).collect()
}

/// Parses the text behind `value`, which must be an encoding tagged `tag`.
fn decode_tagged<T: FromStr>(value: u64, tag: u64) -> Result<T, Icd10Error> {
    let fail = || Icd10Error::new(&value.to_string(), Icd10Problem::NotAnEncoding);
    if value / TAG_WEIGHT != tag {
        return Err(fail());
    }
    let chars = from_positional(value % TAG_WEIGHT).ok_or_else(fail)?;
    chars.parse().map_err(|_| fail())
}

impl Icd10Code {
    /// The code's 3-character category.
    pub fn category(&self) -> Icd10Category {
        Icd10Category {
            chars: self.chars[..3].to_owned(),
        }
    }

    /// The integer the claim protocol encrypts for this code.
    pub fn encode(&self) -> u64 {
        CODE_TAG * TAG_WEIGHT + positional(&self.chars)
    }

    /// The code an integer from [`Icd10Code::encode`] stands for.
    pub fn decode(value: u64) -> Result<Self, Icd10Error> {
        decode_tagged(value, CODE_TAG)
    }
}

impl Icd10Category {
    /// The integer the claim protocol encrypts for this category.
    pub fn encode(&self) -> u64 {
        CATEGORY_TAG * TAG_WEIGHT + positional(&self.chars)
    }

    /// The category an integer from [`Icd10Category::encode`] stands for.
    pub fn decode(value: u64) -> Result<Self, Icd10Error> {
        decode_tagged(value, CATEGORY_TAG)
    }

    /// The category as text.
    pub fn as_str(&self) -> &str {
        &self.chars
    }
}

impl CoveredCode {
    /// The integer a policy encrypts for this item: a code's or a category's encoding.
    pub fn encode(&self) -> u64 {
        match self {
            CoveredCode::Code(code) => code.encode(),
            CoveredCode::Category(category) => category.encode(),
        }
    }

    /// Whether a record with diagnosis `code` falls under this item.
    pub fn covers(&self, code: &Icd10Code) -> bool {
        match self {
            CoveredCode::Code(item) => item == code,
            CoveredCode::Category(item) => *item == code.category(),
        }
    }
}

/// Normalises and checks the shape; returns the characters without the dot.
fn parse_chars(input: &str) -> Result<String, Icd10Error> {
    let trimmed = input.trim();
    let fail = |problem| Icd10Error::new(trimmed, problem);
    let mut chars = String::with_capacity(7);
    let mut dot_seen = false;
    for (i, c) in trimmed.chars().enumerate() {
        if c == '.' {
            if dot_seen || i != 3 {
                return Err(fail(Icd10Problem::MisplacedDot));
            }
            dot_seen = true;
            continue;
        }
        if !c.is_ascii_alphanumeric() {
            return Err(fail(Icd10Problem::BadCharacter {
                position: chars.len() + 1,
            }));
        }
        chars.push(c.to_ascii_uppercase());
    }
    let bytes = chars.as_bytes();
    if bytes.len() < 3 {
        return Err(fail(Icd10Problem::TooShort));
    }
    if bytes.len() > 7 {
        return Err(fail(Icd10Problem::TooLong));
    }
    if dot_seen && bytes.len() == 3 {
        return Err(fail(Icd10Problem::EmptyAfterDot));
    }
    if !bytes[0].is_ascii_uppercase() {
        return Err(fail(Icd10Problem::FirstNotLetter));
    }
    if !bytes[1].is_ascii_digit() {
        return Err(fail(Icd10Problem::SecondNotDigit));
    }
    Ok(chars)
}

impl FromStr for Icd10Code {
    type Err = Icd10Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_chars(s).map(|chars| Icd10Code { chars })
    }
}

impl FromStr for Icd10Category {
    type Err = Icd10Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let chars = parse_chars(s)?;
        if chars.len() != 3 {
            return Err(Icd10Error::new(s.trim(), Icd10Problem::NotACategory));
        }
        Ok(Icd10Category { chars })
    }
}

impl FromStr for CoveredCode {
    type Err = Icd10Error;

    /// Three characters name a category; more name a full code.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code: Icd10Code = s.parse()?;
        Ok(if code.chars.len() == 3 {
            CoveredCode::Category(code.category())
        } else {
            CoveredCode::Code(code)
        })
    }
}

impl fmt::Display for Icd10Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chars[..3])?;
        if self.chars.len() > 3 {
            write!(f, ".{}", &self.chars[3..])?;
        }
        Ok(())
    }
}

impl fmt::Display for Icd10Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chars)
    }
}

impl fmt::Display for CoveredCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoveredCode::Code(code) => code.fmt(f),
            CoveredCode::Category(category) => category.fmt(f),
        }
    }
}

impl fmt::Debug for Icd10Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Icd10Code({self})")
    }
}

impl fmt::Debug for Icd10Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Icd10Category({self})")
    }
}

macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(Icd10Code);
string_serde!(Icd10Category);
string_serde!(CoveredCode);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_real_codes_and_normalises() {
        for (input, shown) in [
            ("E11.9", "E11.9"),
            ("C50.912", "C50.912"),
            ("I10", "I10"),
            ("S72.001A", "S72.001A"),
            ("T36.0X1A", "T36.0X1A"),
            ("C4A.0", "C4A.0"),
            ("O09.A0", "O09.A0"),
            ("U07.1", "U07.1"),
            (" e119 ", "E11.9"),
            ("c50912", "C50.912"),
        ] {
            let code: Icd10Code = input.parse().unwrap();
            assert_eq!(code.to_string(), shown, "{input}");
        }
        let code: Icd10Code = "C50.912".parse().unwrap();
        assert_eq!(code.category().to_string(), "C50");
    }

    #[test]
    fn malformed_codes_name_the_code_and_the_problem() {
        for (input, problem) in [
            ("", Icd10Problem::TooShort),
            ("E1", Icd10Problem::TooShort),
            ("E11.99999", Icd10Problem::TooLong),
            ("111.9", Icd10Problem::FirstNotLetter),
            ("EE1.9", Icd10Problem::SecondNotDigit),
            ("E1-.9", Icd10Problem::BadCharacter { position: 3 }),
            ("E11.9é", Icd10Problem::BadCharacter { position: 5 }),
            ("E1.19", Icd10Problem::MisplacedDot),
            ("E11..9", Icd10Problem::MisplacedDot),
            ("E11.", Icd10Problem::EmptyAfterDot),
        ] {
            let err = input.parse::<Icd10Code>().unwrap_err();
            assert_eq!(err.problem, problem, "{input:?}");
            assert!(
                err.to_string().contains(&format!("{:?}", input.trim())),
                "{err}"
            );
        }
        let err = "E11.9".parse::<Icd10Category>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid ICD-10-CM code \"E11.9\": expected a 3-character category, found a full code"
        );
    }

    #[test]
    fn covered_items_distinguish_codes_from_categories() {
        let e119: Icd10Code = "E11.9".parse().unwrap();
        let e110: Icd10Code = "E11.0".parse().unwrap();
        let category: CoveredCode = "E11".parse().unwrap();
        let exact: CoveredCode = "E11.9".parse().unwrap();
        assert!(matches!(category, CoveredCode::Category(_)));
        assert!(category.covers(&e119) && category.covers(&e110));
        assert!(exact.covers(&e119) && !exact.covers(&e110));
        assert_eq!(category.encode(), e110.category().encode());
        assert_eq!(exact.encode(), e119.encode());
        // The same three characters as a code and as a category never collide.
        let i10: Icd10Code = "I10".parse().unwrap();
        assert_ne!(i10.encode(), i10.category().encode());
    }

    #[test]
    fn decode_refuses_values_no_code_has() {
        assert!(Icd10Code::decode(0).is_err());
        assert!(Icd10Code::decode(u64::MAX).is_err());
        let category: Icd10Category = "E11".parse().unwrap();
        assert!(Icd10Code::decode(category.encode()).is_err());
        // A gap followed by a character: "E11" then absent then "9".
        let gapped = CODE_TAG * TAG_WEIGHT + positional("E11") + 10;
        assert!(Icd10Code::decode(gapped).is_err());
    }

    fn code_strategy() -> impl Strategy<Value = String> {
        "[A-Z][0-9][0-9A-Z](\\.[0-9A-Z]{1,4})?"
    }

    proptest! {
        #[test]
        fn encoding_round_trips(text in code_strategy()) {
            let code: Icd10Code = text.parse().unwrap();
            prop_assert_eq!(Icd10Code::decode(code.encode()).unwrap(), code.clone());
            let category = code.category();
            prop_assert_eq!(Icd10Category::decode(category.encode()).unwrap(), category);
            prop_assert!(code.encode() < 3 * TAG_WEIGHT);
        }

        #[test]
        fn encoding_is_injective(a in code_strategy(), b in code_strategy()) {
            let a: Icd10Code = a.parse().unwrap();
            let b: Icd10Code = b.parse().unwrap();
            prop_assert_eq!(a == b, a.encode() == b.encode());
            prop_assert_eq!(
                a.category() == b.category(),
                a.category().encode() == b.category().encode()
            );
            prop_assert_ne!(a.encode(), b.category().encode());
        }

        #[test]
        fn arbitrary_input_never_panics(text in "\\PC{0,12}") {
            let _ = text.parse::<Icd10Code>();
            let _ = text.parse::<CoveredCode>();
        }
    }
}
