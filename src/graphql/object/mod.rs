//! GraphQL output types. Each wraps its entity's model rather than deriving on it, so that the
//! schema is designed for clients, not dictated by the tables.

mod api_key;
mod contact;
mod conversation;
mod member;
mod message;
mod send_attempt;
mod sender;
mod workspace;

pub use api_key::ApiKey;
pub use contact::Contact;
pub use conversation::{Conversation, ConversationStatus};
pub use member::{Member, Role};
pub use message::{Message, MessageDirection, MessageStatus, MessageType};
pub use send_attempt::{SendAttempt, SendAttemptStatus};
pub use sender::{Sender, SenderKind, SenderStatus};
pub use workspace::Workspace;

/// Phone digits as clients write them: E.164 with a leading `+`.
fn e164(digits: &str) -> String {
    format!("+{digits}")
}

/// A related row by id. The caller's row already belongs to the workspace, and so do the rows it
/// points at; single lookups for now (lists batch through dataloaders).
async fn load<E>(
    ctx: &async_graphql::Context<'_>,
    id: uuid::Uuid,
) -> async_graphql::Result<E::Model>
where
    E: sea_orm::EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<uuid::Uuid>,
{
    let db = ctx.data::<sea_orm::DatabaseConnection>()?;
    let row = E::find_by_id(id)
        .one(db)
        .await
        .map_err(crate::error::AppError::from)?
        .ok_or_else(|| anyhow::anyhow!("a related row is missing"))
        .map_err(crate::error::AppError::from)?;
    Ok(row)
}
