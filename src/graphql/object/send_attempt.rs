use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::send_attempt;

use crate::graphql::loader;

/// Where a send stands: QUEUED → SENDING → ACCEPTED (WhatsApp returned a wamid) or FAILED.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::send_attempt::SendAttemptState")]
pub enum SendAttemptStatus {
    Queued,
    Sending,
    Accepted,
    Failed,
}

/// One accepted send request and its way to WhatsApp.
pub struct SendAttempt(pub send_attempt::Model);

#[Object]
impl SendAttempt {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn status(&self) -> SendAttemptStatus {
        self.0.state.into()
    }

    /// WhatsApp's message id, once accepted.
    async fn wamid(&self) -> Option<&str> {
        self.0.wamid.as_deref()
    }

    async fn error_code(&self) -> Option<&str> {
        self.0.error_code.as_deref()
    }

    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }

    /// How many times Parley has tried to hand it to WhatsApp.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When the next try is due.
    async fn scheduled_at(&self) -> DateTime<Utc> {
        self.0.next_attempt_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The message being sent.
    async fn message(&self, ctx: &Context<'_>) -> Result<super::Message> {
        let message =
            loader::get::<entity::message::Entity>(ctx, self.0.workspace_id, self.0.message_id);
        Ok(super::Message(message.await?))
    }
}
