use async_graphql::{Enum, ID, Object};
use chrono::{DateTime, Utc};
use entity::member;

/// What a member may do in its workspace.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::member::Role")]
pub enum Role {
    /// Everything, including managing members and senders.
    Owner,
    /// Everything but what only owners may do to other owners.
    Admin,
    /// Reads the workspace and sends from its own sender.
    Member,
}

/// A person signed in to a workspace.
pub struct Member(pub member::Model);

#[Object]
impl Member {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn role(&self) -> Role {
        self.0.role.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
