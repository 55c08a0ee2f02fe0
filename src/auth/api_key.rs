//! API key secrets: `pk_` and 256 random bits. Only the SHA-256 of a secret is stored — a fast hash
//! is enough because the secret is random, not chosen by a person.

use rand::RngCore;
use sha2::{Digest, Sha256};

pub const SECRET_PREFIX: &str = "pk_";
/// Characters of the secret kept in clear to recognise a key in listings.
const DISPLAY_PREFIX_LEN: usize = 11;

/// A freshly generated key secret, shown to its creator once.
pub struct NewKeySecret {
    pub secret: String,
    pub hash: String,
    pub prefix: String,
}

pub fn generate() -> NewKeySecret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{SECRET_PREFIX}{}", hex::encode(bytes));
    NewKeySecret {
        hash: hash(&secret),
        prefix: secret[..DISPLAY_PREFIX_LEN].to_owned(),
        secret,
    }
}

/// Hex SHA-256 of a presented secret, to look the key up by.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_hashed() {
        let first = generate();
        let second = generate();
        assert!(first.secret.starts_with("pk_"));
        assert_eq!(first.secret.len(), 3 + 64);
        assert_ne!(first.secret, second.secret);
        assert_eq!(first.hash, hash(&first.secret));
        assert!(first.secret.starts_with(&first.prefix));
        assert!(!first.hash.contains(&first.secret[3..]));
    }
}
