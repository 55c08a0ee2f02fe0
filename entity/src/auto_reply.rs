//! One auto-reply the bot queued: which inbound message it answered and with which send.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auto_replies")]
pub struct Model {
    /// The customer's message answered; the key makes a second reply to it impossible.
    #[sea_orm(primary_key, auto_increment = false)]
    pub inbound_message_id: Uuid,
    pub workspace_id: Uuid,
    pub sender_id: Uuid,
    pub conversation_id: Uuid,
    /// The reply (an outbound message).
    pub message_id: Uuid,
    pub send_attempt_id: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::conversation::Entity",
        from = "Column::ConversationId",
        to = "super::conversation::Column::Id",
        on_delete = "Cascade"
    )]
    Conversation,
}

impl ActiveModelBehavior for ActiveModel {}
