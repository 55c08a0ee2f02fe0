//! `Phone::parse` on any string: never panics, and what it accepts is 7–15 digits without a
//! leading zero that parse back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::domain::Phone;

fuzz_target!(|input: &str| {
    let Ok(phone) = Phone::parse(input) else {
        return;
    };
    let digits = phone.digits();
    assert!((7..=15).contains(&digits.len()), "{input:?} -> {digits}");
    assert!(
        digits.bytes().all(|b| b.is_ascii_digit()),
        "{input:?} -> {digits}"
    );
    assert!(!digits.starts_with('0'), "{input:?} -> {digits}");
    let again = Phone::parse(&phone.e164()).expect("an accepted number parses again");
    assert_eq!(again.digits(), digits);
});
