//! Idempotency keys: a client's name for one send, so that retrying a request never sends twice.
//! A key is scoped to its workspace; the request it first came with is remembered as a hash of its
//! canonical JSON, so a retry (same body) is told apart from a reuse (another body).

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{AppError, ErrorCode};

const MAX_LEN: usize = 255;

/// A client's idempotency key, as given in the `Idempotency-Key` header or `idempotencyKey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Surrounding whitespace and double quotes are not part of the key: `"abc"`, `" abc "` and
    /// `abc` name the same send (clients differ in how they write header values). Stripped until
    /// none are left, so that a key parses to itself (a single pass left `"  abc"` as `  abc`,
    /// which then parsed as `abc`: found by the `idempotency` fuzz target).
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let mut unquoted = raw.trim();
        while let Some(inner) = unquoted
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
        {
            unquoted = inner.trim();
        }
        let valid = !unquoted.is_empty()
            && unquoted.len() <= MAX_LEN
            && unquoted
                .bytes()
                .all(|byte| byte.is_ascii_graphic() || byte == b' ');
        if !valid {
            return Err(AppError::client(
                ErrorCode::InvalidRequest,
                format!("Idempotency-Key must be 1 to {MAX_LEN} printable ASCII characters"),
            ));
        }
        Ok(Self(unquoted.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Hex SHA-256 of `request` in canonical form: object keys sorted at every level, no whitespace.
/// Two requests that differ only in key order or spacing hash the same.
pub fn request_hash(request: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(request, &mut canonical);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().filter(|(_, v)| !v.is_null()).collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoted_and_unquoted_keys_are_the_same_key() {
        let plain = IdempotencyKey::parse("order-42").unwrap();
        assert_eq!(IdempotencyKey::parse("\"order-42\"").unwrap(), plain);
        assert_eq!(IdempotencyKey::parse("  order-42 ").unwrap(), plain);
        for bad in ["", "\"\"", "   ", "tab\there", "ключ", &"k".repeat(256)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_key_parses_to_itself() {
        let plain = IdempotencyKey::parse("quoted key").unwrap();
        for spelling in [
            "\"  quoted key\"  ",
            "\"\"quoted key\"\"",
            "\" \" quoted key \" \"",
        ] {
            let key = IdempotencyKey::parse(spelling).unwrap();
            assert_eq!(key, plain, "{spelling:?}");
            assert_eq!(IdempotencyKey::parse(key.as_str()).unwrap(), key);
        }
        assert!(IdempotencyKey::parse("\" \"\" \"").is_err());
    }

    #[test]
    fn hashes_ignore_key_order_spacing_and_nulls_but_not_values() {
        let a = json!({"to": "+1555", "text": "hi", "nested": {"b": 1, "a": [1, 2]}});
        let b = json!({"nested": {"a": [1, 2], "b": 1}, "text": "hi", "to": "+1555", "from": null});
        assert_eq!(request_hash(&a), request_hash(&b));
        let c = json!({"to": "+1555", "text": "hi!", "nested": {"b": 1, "a": [1, 2]}});
        assert_ne!(request_hash(&a), request_hash(&c));
        let reordered = json!({"to": "+1555", "text": "hi", "nested": {"b": 1, "a": [2, 1]}});
        assert_ne!(request_hash(&a), request_hash(&reordered));
    }
}
