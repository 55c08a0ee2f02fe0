use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};
use entity::workspace;

/// A tenant: a CRM team and everything it owns.
pub struct Workspace(pub workspace::Model);

#[Object]
impl Workspace {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
