//! A WhatsApp message template of a sender's Business Account, as last synced from Meta (or
//! updated by its status webhook). Meta names a template by (name, language).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_templates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub sender_id: Uuid,
    /// Meta's template id.
    pub meta_id: Option<String>,
    pub name: String,
    /// `en_US`, `pt_BR`, …
    pub language: String,
    /// Meta's status in upper case: APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …
    pub status: String,
    /// MARKETING, UTILITY or AUTHENTICATION.
    pub category: Option<String>,
    /// Meta's reason for the last status change (a rejection, a pause).
    pub status_reason: Option<String>,
    /// Meta's `components` array as Meta returned it.
    pub components: Json,
    pub synced_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::sender::Entity",
        from = "Column::SenderId",
        to = "super::sender::Column::Id",
        on_delete = "Cascade"
    )]
    Sender,
}

impl ActiveModelBehavior for ActiveModel {}
