use async_graphql::{Enum, ID, Object};
use chrono::{DateTime, Duration, Utc};
use entity::conversation;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::conversation::ConversationStatus")]
pub enum ConversationStatus {
    Open,
    Closed,
}

/// WhatsApp's customer-service window: free-form messages are allowed for this long after the
/// customer's last message.
const SERVICE_WINDOW: Duration = Duration::hours(24);

/// The thread between one of the workspace's senders and one contact.
pub struct Conversation(pub conversation::Model);

#[Object]
impl Conversation {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn status(&self) -> ConversationStatus {
        self.0.status.into()
    }

    /// Inbound messages not yet marked read.
    async fn unread_count(&self) -> i32 {
        self.0.unread_count
    }

    async fn last_message_at(&self) -> DateTime<Utc> {
        self.0.last_message_at
    }

    /// When the 24-hour service window closes; null when the customer never wrote.
    async fn window_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_inbound_at.map(|at| at + SERVICE_WINDOW)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
