//! The durable send queue: one attempt per outbound message, claimed by dispatchers under a lease.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "send_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    #[sea_orm(unique)]
    pub message_id: Uuid,
    pub sender_id: Uuid,
    pub api_key_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub state: SendAttemptState,
    /// Unique per workspace.
    pub idempotency_key: Option<String>,
    /// Hex SHA-256 of the canonical request.
    pub request_hash: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub wamid: Option<String>,
    pub wa_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Whether this send created its contact.
    pub contact_created: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// QUEUED → SENDING → ACCEPTED | FAILED (a failure, a lost lease: `delivery_unknown`), or
/// SENDING → QUEUED for a retry, and FAILED `delivery_unknown` → ACCEPTED once Meta shows it has
/// the message; each transition is one UPDATE guarded by the expected previous state (all of them
/// in `parley::send_queue`).
#[derive(
    Copy,
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum SendAttemptState {
    #[sea_orm(string_value = "QUEUED")]
    Queued,
    #[sea_orm(string_value = "SENDING")]
    Sending,
    #[sea_orm(string_value = "ACCEPTED")]
    Accepted,
    #[sea_orm(string_value = "FAILED")]
    Failed,
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
        belongs_to = "super::message::Entity",
        from = "Column::MessageId",
        to = "super::message::Column::Id",
        on_delete = "Cascade"
    )]
    Message,
    #[sea_orm(
        belongs_to = "super::sender::Entity",
        from = "Column::SenderId",
        to = "super::sender::Column::Id",
        on_delete = "Cascade"
    )]
    Sender,
}

impl Related<super::message::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Message.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
