//! A connected WhatsApp Business number (Cloud API) or a simulated one (sandbox).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "senders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub kind: SenderKind,
    pub name: String,
    /// Digits of the E.164 number; unique per workspace.
    pub phone_number: String,
    /// Meta's phone number id; unique across the server, it routes webhooks.
    #[sea_orm(unique)]
    pub phone_number_id: String,
    pub waba_id: Option<String>,
    /// Sealed with the server's secret key; never leaves the process in clear.
    pub access_token_encrypted: Option<Vec<u8>>,
    pub owner_member_id: Option<Uuid>,
    pub status: SenderStatus,
    pub status_reason: Option<String>,
    pub daily_limit: Option<i32>,
    pub messages_per_second: i32,
    pub min_interval_ms: i32,
    /// Refuse sends outside the 24-hour window before asking Meta (off by default).
    pub window_check_enabled: bool,
    /// Space this sender's sends by a random gap between the two bounds (off by default).
    pub pacing_enabled: bool,
    pub pacing_min_secs: i32,
    pub pacing_max_secs: i32,
    /// The earliest time the next paced send may go out.
    pub next_send_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum SenderKind {
    #[sea_orm(string_value = "CLOUD_API")]
    CloudApi,
    #[sea_orm(string_value = "SANDBOX")]
    Sandbox,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum SenderStatus {
    #[sea_orm(string_value = "CONNECTED")]
    Connected,
    #[sea_orm(string_value = "DISCONNECTED")]
    Disconnected,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::workspace::Entity",
        from = "Column::WorkspaceId",
        to = "super::workspace::Column::Id",
        on_delete = "Cascade"
    )]
    Workspace,
    #[sea_orm(
        belongs_to = "super::member::Entity",
        from = "Column::OwnerMemberId",
        to = "super::member::Column::Id",
        on_delete = "SetNull"
    )]
    Owner,
}

impl Related<super::workspace::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
