//! Member sessions: HS256 JWTs signed with the server's JWT secret.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a member token says: who, in which workspace, until when.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The member's id.
    pub sub: Uuid,
    /// The workspace's id.
    pub ws: Uuid,
    pub iat: i64,
    pub exp: i64,
}

pub fn issue(
    secret: &SecretString,
    member_id: Uuid,
    workspace_id: Uuid,
    ttl_secs: u64,
) -> anyhow::Result<String> {
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: member_id,
        ws: workspace_id,
        iat: now,
        exp: now + i64::try_from(ttl_secs)?,
    };
    let key = EncodingKey::from_secret(secret.expose_secret().as_bytes());
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &key,
    )?)
}

/// The claims of a valid, unexpired token signed with `secret`; `None` for anything else.
pub fn verify(secret: &SecretString, token: &str) -> Option<Claims> {
    let key = DecodingKey::from_secret(secret.expose_secret().as_bytes());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    validation.set_required_spec_claims(&["exp", "sub"]);
    jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .ok()
        .map(|data| data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn issued_tokens_verify_only_with_their_secret() {
        let (member, workspace) = (Uuid::now_v7(), Uuid::now_v7());
        let token = issue(&secret("a".repeat(32).as_str()), member, workspace, 60).unwrap();
        let claims = verify(&secret("a".repeat(32).as_str()), &token).unwrap();
        assert_eq!((claims.sub, claims.ws), (member, workspace));
        assert!(verify(&secret("b".repeat(32).as_str()), &token).is_none());
        assert!(verify(&secret("a".repeat(32).as_str()), "not.a.jwt").is_none());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let key = secret("a".repeat(32).as_str());
        let claims = Claims {
            sub: Uuid::now_v7(),
            ws: Uuid::now_v7(),
            iat: 0,
            exp: Utc::now().timestamp() - 60,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        )
        .unwrap();
        assert!(verify(&key, &token).is_none());
    }
}
