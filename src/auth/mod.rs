//! Who a request acts as. Every handler works from a [`Principal`], extracted once per request.

use entity::member::Role;
use uuid::Uuid;

/// The member (directly, or through one of its API keys) a request acts for.
#[derive(Debug, Clone)]
pub struct Principal {
    pub workspace_id: Uuid,
    pub member_id: Uuid,
    pub role: Role,
}
