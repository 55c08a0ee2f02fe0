//! GraphQL output types. Each wraps its entity's model rather than deriving on it, so that the
//! schema is designed for clients, not dictated by the tables.

mod api_key;
mod auto_reply;
mod contact;
mod conversation;
mod member;
mod message;
mod send_attempt;
mod sender;
mod template;
mod webhook;
mod workspace;

pub use api_key::ApiKey;
pub use auto_reply::{AutoReplyMode, AutoReplySettings, Weekday};
pub use contact::Contact;
pub use conversation::{Conversation, ConversationStatus};
pub use member::{Member, Role};
pub use message::{Message, MessageDirection, MessageStatus, MessageType};
pub use send_attempt::{SendAttempt, SendAttemptStatus};
pub use sender::{Sender, SenderKind, SenderStatus};
pub use template::MessageTemplate;
pub use webhook::{
    WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookEndpointWithSecret,
};
pub use workspace::Workspace;

/// Phone digits as clients write them: E.164 with a leading `+`.
fn e164(digits: &str) -> String {
    format!("+{digits}")
}
