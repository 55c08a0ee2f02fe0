use async_graphql::{Context, Enum, ID, Json, Object, Result};
use chrono::{DateTime, Utc};
use entity::{contact, conversation, message, sender};

use crate::graphql::loader;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::message::MessageDirection")]
pub enum MessageDirection {
    Inbound,
    Outbound,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[graphql(remote = "entity::message::MessageType")]
pub enum MessageType {
    Text,
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Location,
    Contacts,
    Template,
    Interactive,
    Reaction,
    /// An inbound message WhatsApp does not describe to the Cloud API.
    Unsupported,
}

/// Delivery status; only moves forward (PENDING → SENT → DELIVERED → READ), FAILED is terminal.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::message::MessageStatus")]
pub enum MessageStatus {
    Pending,
    Sent,
    Delivered,
    Read,
    Failed,
}

/// A WhatsApp message, sent or received.
pub struct Message(pub message::Model);

#[Object]
impl Message {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    /// WhatsApp's id of the message, once it has one.
    async fn wamid(&self) -> Option<&str> {
        self.0.wamid.as_deref()
    }

    async fn direction(&self) -> MessageDirection {
        self.0.direction.into()
    }

    #[graphql(name = "type")]
    async fn message_type(&self) -> MessageType {
        self.0.r#type.into()
    }

    /// The text, or a media message's caption.
    async fn text(&self) -> Option<&str> {
        self.0.text.as_deref()
    }

    /// The whole message as sent or received.
    async fn body(&self) -> Json<serde_json::Value> {
        Json(self.0.body.clone())
    }

    async fn status(&self) -> MessageStatus {
        self.0.status.into()
    }

    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }

    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }

    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }

    async fn failed_at(&self) -> Option<DateTime<Utc>> {
        self.0.failed_at
    }

    async fn error_code(&self) -> Option<&str> {
        self.0.error_code.as_deref()
    }

    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn contact(&self, ctx: &Context<'_>) -> Result<super::Contact> {
        let contact = loader::get::<contact::Entity>(ctx, self.0.workspace_id, self.0.contact_id);
        Ok(super::Contact(contact.await?))
    }

    async fn conversation(&self, ctx: &Context<'_>) -> Result<super::Conversation> {
        let conversation =
            loader::get::<conversation::Entity>(ctx, self.0.workspace_id, self.0.conversation_id);
        Ok(super::Conversation(conversation.await?))
    }

    /// The number it was sent from or received on.
    async fn sender(&self, ctx: &Context<'_>) -> Result<super::Sender> {
        let sender = loader::get::<sender::Entity>(ctx, self.0.workspace_id, self.0.sender_id);
        Ok(super::Sender(sender.await?))
    }

    /// The send behind an outbound message; null for inbound ones.
    async fn send_attempt(&self, ctx: &Context<'_>) -> Result<Option<super::SendAttempt>> {
        let attempt = loader::send_attempt_of(ctx, self.0.workspace_id, self.0.id).await?;
        Ok(attempt.map(super::SendAttempt))
    }

    /// The message this one replies to, when it is one Parley knows.
    async fn reply_to(&self, ctx: &Context<'_>) -> Result<Option<Message>> {
        let Some(id) = self.0.reply_to_message_id else {
            return Ok(None);
        };
        let message = loader::find::<message::Entity>(ctx, self.0.workspace_id, id).await?;
        Ok(message.map(Message))
    }
}
