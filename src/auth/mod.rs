//! Who a request acts as. A bearer token — a member's JWT or an API key — is turned into a
//! [`Principal`] once per request (by [`authenticate`]); handlers work from that alone.

pub mod api_key;
pub mod extract;
pub mod password;
pub mod scope;
pub mod token;

use chrono::{Duration, Utc};
use entity::{api_key as api_key_entity, member, member::Role};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, sea_query::Expr,
};
use uuid::Uuid;

pub use scope::{Scope, Scopes};

use crate::error::{AppError, ErrorCode};

/// The member a request acts for, directly (JWT) or through one of its API keys.
#[derive(Debug, Clone)]
pub struct Principal {
    pub workspace_id: Uuid,
    pub member_id: Uuid,
    /// The member's current role (read from the database, not from the token).
    pub role: Role,
    /// What this request may do: the role's scopes, narrowed by the key's when there is one.
    pub scopes: Scopes,
    pub api_key: Option<ApiKeyCredential>,
}

/// The API key a request came with.
#[derive(Debug, Clone)]
pub struct ApiKeyCredential {
    pub id: Uuid,
    /// Requests per minute this key may make.
    pub rate_limit_per_minute: u32,
}

/// Requests per minute for a key without its own limit.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 60;

impl Principal {
    pub fn require_scope(&self, scope: Scope) -> Result<(), AppError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(AppError::client(
                ErrorCode::InsufficientScope,
                format!("this credential lacks the {} scope", scope.as_str()),
            ))
        }
    }

    /// Any one of `scopes` will do.
    pub fn require_any_scope(&self, scopes: &[Scope]) -> Result<(), AppError> {
        match scopes.iter().find(|scope| self.scopes.contains(**scope)) {
            Some(_) => Ok(()),
            None => Err(AppError::client(
                ErrorCode::InsufficientScope,
                format!(
                    "this credential needs one of the scopes {}",
                    scopes
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// Owners and admins manage the workspace; members only use it.
    pub fn is_admin(&self) -> bool {
        matches!(self.role, Role::Owner | Role::Admin)
    }

    /// Member management and key management need a member's own session, not an API key: a key
    /// must never be able to mint keys or members more powerful than itself.
    pub fn require_session(&self) -> Result<(), AppError> {
        match self.api_key {
            None => Ok(()),
            Some(_) => Err(AppError::client(
                ErrorCode::Forbidden,
                "API keys cannot do this; sign in as a member",
            )),
        }
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::client(
                ErrorCode::Forbidden,
                "only owners and admins can do this",
            ))
        }
    }
}

fn invalid_token() -> AppError {
    AppError::client(
        ErrorCode::InvalidBearerToken,
        "the bearer token is unknown, malformed, expired or revoked",
    )
}

/// The bearer token of an `Authorization` header value: `Ok(None)` when there is no header,
/// an `invalid_bearer_token` error when it is not a bearer token.
pub fn bearer_token(header: Option<&str>) -> Result<Option<&str>, AppError> {
    let Some(header) = header else {
        return Ok(None);
    };
    let (scheme, token) = header.trim().split_once(' ').ok_or_else(invalid_token)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(invalid_token());
    }
    Ok(Some(token))
}

/// Resolves a bearer token to its principal. Every failure is the same `invalid_bearer_token`,
/// so that a caller cannot tell a revoked key from one that never existed.
pub async fn authenticate(
    db: &DatabaseConnection,
    jwt_secret: &secrecy::SecretString,
    token: &str,
) -> Result<Principal, AppError> {
    if token.len() > 4096 {
        return Err(invalid_token());
    }
    if token.starts_with(api_key::SECRET_PREFIX) {
        authenticate_key(db, token).await
    } else {
        authenticate_session(db, jwt_secret, token).await
    }
}

async fn authenticate_session(
    db: &DatabaseConnection,
    jwt_secret: &secrecy::SecretString,
    token: &str,
) -> Result<Principal, AppError> {
    let claims = token::verify(jwt_secret, token).ok_or_else(invalid_token)?;
    // The member may have been removed, or moved role, since the token was issued.
    let member = member::Entity::find_by_id(claims.sub)
        .one(db)
        .await?
        .filter(|member| member.workspace_id == claims.ws)
        .ok_or_else(invalid_token)?;
    Ok(Principal {
        workspace_id: member.workspace_id,
        member_id: member.id,
        role: member.role,
        scopes: Scopes::of_role(member.role),
        api_key: None,
    })
}

async fn authenticate_key(db: &DatabaseConnection, secret: &str) -> Result<Principal, AppError> {
    let (key, member) = api_key_entity::Entity::find()
        .filter(api_key_entity::Column::KeyHash.eq(api_key::hash(secret)))
        .find_also_related(member::Entity)
        .one(db)
        .await?
        .and_then(|(key, member)| Some((key, member?)))
        .filter(|(key, _)| key.revoked_at.is_none())
        .ok_or_else(invalid_token)?;
    touch_last_used(db, &key).await?;
    Ok(Principal {
        workspace_id: key.workspace_id,
        member_id: member.id,
        role: member.role,
        scopes: Scopes::of_key(&key.scopes, member.role),
        api_key: Some(ApiKeyCredential {
            id: key.id,
            rate_limit_per_minute: key
                .rate_limit_per_minute
                .and_then(|limit| u32::try_from(limit).ok())
                .unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE),
        }),
    })
}

/// Records that a key was used, at most once a minute, so that a busy key does not turn every
/// request into a write: the row just read decides whether to write at all (no write, so no
/// SQLite write lock, within the minute), and the guarded UPDATE lets one of several concurrent
/// requests win the minute's write.
async fn touch_last_used(
    db: &DatabaseConnection,
    key: &api_key_entity::Model,
) -> Result<(), AppError> {
    let now = Utc::now();
    let stale = now - Duration::seconds(60);
    if key.last_used_at.is_some_and(|used| used >= stale) {
        return Ok(());
    }
    api_key_entity::Entity::update_many()
        .col_expr(api_key_entity::Column::LastUsedAt, Expr::value(now))
        .filter(api_key_entity::Column::Id.eq(key.id))
        .filter(
            Condition::any()
                .add(api_key_entity::Column::LastUsedAt.is_null())
                .add(api_key_entity::Column::LastUsedAt.lt(stale)),
        )
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_headers_are_parsed_strictly() {
        assert_eq!(bearer_token(None).unwrap(), None);
        assert_eq!(bearer_token(Some("Bearer abc")).unwrap(), Some("abc"));
        assert_eq!(bearer_token(Some("bearer  abc ")).unwrap(), Some("abc"));
        assert!(bearer_token(Some("Basic abc")).is_err());
        assert!(bearer_token(Some("Bearer")).is_err());
        assert!(bearer_token(Some("Bearer ")).is_err());
    }
}
