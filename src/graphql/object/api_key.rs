use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};
use entity::api_key;

use crate::auth::{Scope, Scopes};

/// A key automations authenticate with; its secret is shown only once, at creation.
pub struct ApiKey(pub api_key::Model);

#[Object]
impl ApiKey {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The first characters of the secret, to tell keys apart.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    /// The scopes the key was created with. What it may do is further limited by its member's
    /// current role.
    async fn scopes(&self) -> Vec<Scope> {
        Scopes::stored(&self.0.scopes)
    }

    /// The member the key acts as.
    async fn member_id(&self) -> ID {
        self.0.member_id.into()
    }

    /// Requests per minute; null means the server default (60).
    async fn rate_limit_per_minute(&self) -> Option<i32> {
        self.0.rate_limit_per_minute
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }

    /// Set once revoked; a revoked key is refused on the next request.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}
