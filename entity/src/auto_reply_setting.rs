//! A sender's auto-reply ("bot") settings: one row per sender, absent until first changed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auto_reply_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sender_id: Uuid,
    pub workspace_id: Uuid,
    pub enabled: bool,
    pub bot_name: Option<String>,
    /// An IANA time zone name, e.g. `Asia/Kolkata`.
    pub timezone: String,
    pub language: Option<String>,
    /// Spintax (`{Hi|Hello}`) with a `[name]` placeholder.
    pub default_message: String,
    /// Active weekdays as a JSON array of upper-case English day names.
    pub active_days: Json,
    /// `HH:MM` local time; both null means active all day.
    pub active_from: Option<String>,
    pub active_to: Option<String>,
    /// `OUTSIDE_ACTIVE_HOURS`, `DURING_ACTIVE_HOURS` or `ALWAYS`.
    pub mode: String,
    pub reply_unread_only: bool,
    /// At most one auto-reply per conversation in this many hours; null: every message.
    pub reply_once_per_hours: Option<i32>,
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
