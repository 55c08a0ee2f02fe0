//! Idempotency: `IdempotencyKey::parse` on any header value, and `request_hash` on any JSON body.
//! The hash must not depend on key order or spacing (a retry is the same request), and must
//! tell apart bodies whose canonical forms differ.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::sending::{IdempotencyKey, request_hash};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(key) = IdempotencyKey::parse(text) {
            assert!(!key.as_str().is_empty() && key.as_str().len() <= 255);
            assert_eq!(IdempotencyKey::parse(key.as_str()).unwrap(), key);
        }
    }
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let hash = request_hash(&body);
    // The same body, spaced out and with every object's keys in reverse order.
    let reordered = reverse_keys(&body);
    let pretty = serde_json::to_string_pretty(&reordered).unwrap();
    let reparsed: Value = serde_json::from_str(&pretty).unwrap();
    // serde_json's default float parsing may land one ulp away on a second trip; only a body that
    // reads back the same is the same request.
    if reparsed == body {
        assert_eq!(request_hash(&reparsed), hash, "{body}");
    }
    // Wrapped, it is another request.
    assert_ne!(request_hash(&Value::Array(vec![body.clone()])), hash);
});

fn reverse_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.reverse();
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), reverse_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(reverse_keys).collect()),
        other => other.clone(),
    }
}
