//! Phone numbers as clients send them, parsed once into the international digits Parley stores
//! (`normalizedPhone`) and hands to WhatsApp.
//!
//! The contract's rule: international format; `+`, spaces, dashes, dots and parentheses are
//! ignored; 7 to 15 digits remain. On top of that:
//!
//! - `+` may only come first (after any spaces). Anywhere else it is a typo or two numbers run
//!   together, and guessing which would send to the wrong person.
//! - The first digit must not be `0`: E.164 country codes never start with 0, so a leading 0 is
//!   a national trunk prefix (`07700 900123`) and the country is unknown.
//! - A leading `00` is not taken as the international prefix. It is one in much of the world,
//!   but not in North America (`011`) or Australia (`0011`), and `00…` can also be a national
//!   number; stripping it could turn a mistake into a message to a stranger. Clients are told to
//!   use `+` instead (the leading-0 rule rejects it).
//! - Only ASCII digits count. Other scripts' digits (`١٢٣`, `１２３`) are rejected rather than
//!   transliterated, so what is stored is exactly what the client can see it sent.
//! - Input longer than 64 bytes is rejected before it is looked at: no formatting of a 15-digit
//!   number needs more, and it bounds the work a hostile request can cause.

use std::fmt;

use thiserror::Error;

/// Longest raw input looked at, in bytes.
const MAX_INPUT_LEN: usize = 64;
const MIN_DIGITS: usize = 7;
const MAX_DIGITS: usize = 15;

/// A phone number in international format, held as its digits alone (country code first, no `+`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

/// Why a phone number was rejected; the message is fit to show an API client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number is too long")]
    TooLong,
    #[error(
        "phone number may contain only digits, spaces, dashes, dots, parentheses and a leading +"
    )]
    InvalidCharacter,
    #[error("phone number may have a + only at the start")]
    MisplacedPlus,
    #[error(
        "phone number must start with the country code, not 0 or 00 (use + and the country code)"
    )]
    LeadingZero,
    #[error("phone number must have 7 to 15 digits in international format")]
    WrongLength,
}

impl Phone {
    /// Parses a phone number in international format, e.g. `+44 7700 900123` or `1 (415) 555-0123`.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(PhoneError::TooLong);
        }
        let mut digits = String::with_capacity(MAX_DIGITS);
        // True until something other than a space has been seen: the only place a `+` may go.
        let mut at_start = true;
        for c in input.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' => continue,
                '-' | '.' | '(' | ')' => {}
                '+' if at_start => {}
                '+' => return Err(PhoneError::MisplacedPlus),
                _ => return Err(PhoneError::InvalidCharacter),
            }
            at_start = false;
        }
        if digits.is_empty() {
            return Err(PhoneError::Empty);
        }
        if digits.starts_with('0') {
            return Err(PhoneError::LeadingZero);
        }
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
            return Err(PhoneError::WrongLength);
        }
        Ok(Phone(digits))
    }

    /// The digits alone, country code first: the contract's `normalizedPhone`.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// The E.164 spelling: `+` and the digits.
    pub fn e164(&self) -> String {
        format!("+{}", self.0)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_international_spellings() {
        let cases = [
            ("+44 7700 900123", "447700900123"),
            ("447700900123", "447700900123"),
            ("44-7700-900-123", "447700900123"),
            ("44.7700.900.123", "447700900123"),
            ("+1 (415) 555-0123", "14155550123"),
            ("1 (415) 555.0123", "14155550123"),
            ("(1) 415 555 0123", "14155550123"),
            ("+14155550123", "14155550123"),
            ("+917999709798", "917999709798"),
            ("  +91 79997 09798  ", "917999709798"),
            ("+ 91 79997 09798", "917999709798"),
            ("+4930123", "4930123"), // 7 digits: the shortest accepted
            ("+123456789012345", "123456789012345"), // 15 digits: the longest accepted
            ("+1--415..555((0123))", "14155550123"), // separators are ignored, not checked
            ("-44 7700 900123", "447700900123"),
        ];
        for (input, digits) in cases {
            let phone = Phone::parse(input).unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(phone.digits(), digits, "{input:?}");
            assert_eq!(phone.e164(), format!("+{digits}"), "{input:?}");
            assert_eq!(phone.to_string(), phone.e164(), "{input:?}");
        }
    }

    #[test]
    fn rejects_bad_spellings() {
        use PhoneError::*;
        let too_long_input = format!("+1{}", " ".repeat(MAX_INPUT_LEN));
        let cases: &[(&str, PhoneError)] = &[
            ("", Empty),
            ("   ", Empty),
            ("+", Empty),
            ("++", MisplacedPlus),
            ("()-. ", Empty),
            ("+123456", WrongLength),           // 6 digits
            ("+1234567890123456", WrongLength), // 16 digits
            ("1 2", WrongLength),
            ("0044 7700 900123", LeadingZero),
            ("00 1 415 555 0123", LeadingZero),
            ("07700 900123", LeadingZero),
            ("+0 7700 900123", LeadingZero),
            ("44 7700 900123+", MisplacedPlus),
            ("44+7700900123", MisplacedPlus),
            ("(+44) 7700 900123", MisplacedPlus),
            ("+44 7700 900123, +1 415 555 0123", InvalidCharacter),
            ("+44 7700 9001ab", InvalidCharacter),
            ("+44 7700 9OO123", InvalidCharacter), // letter O, not zero
            ("tel:+447700900123", InvalidCharacter),
            ("+44 7700 900123 ext 5", InvalidCharacter),
            ("١٢٣٤٥٦٧٨", InvalidCharacter), // Arabic-Indic digits
            ("+１４１５５５５０１２３", InvalidCharacter), // fullwidth digits
            ("+44 7700 900123 📞", InvalidCharacter),
            ("+447700\0900123", InvalidCharacter),
            ("+44\t7700900123", InvalidCharacter),
            ("+44\n7700900123", InvalidCharacter),
            ("+44\u{00a0}7700900123", InvalidCharacter), // no-break space
            ("+44/7700/900123", InvalidCharacter),
            ("-+447700900123", MisplacedPlus),
            ("＋447700900123", InvalidCharacter), // fullwidth plus
            (&too_long_input, TooLong),
        ];
        for (input, expected) in cases {
            assert_eq!(Phone::parse(input), Err(*expected), "{input:?}");
        }
    }
}
