//! SeaORM entities for every Parley table, and the tenant-scoped finders that handlers use
//! instead of a bare `find()`: a row of another workspace behaves exactly like a missing one.

pub mod api_key;
pub mod auto_reply;
pub mod auto_reply_setting;
pub mod contact;
pub mod conversation;
pub mod member;
pub mod message;
pub mod message_template;
pub mod rate_limit_window;
pub mod send_attempt;
pub mod sender;
pub mod sender_contact_pair;
pub mod sender_daily_count;
pub mod server_setting;
pub mod webhook_delivery;
pub mod webhook_endpoint;
pub mod webhook_event;
pub mod workspace;
pub mod workspace_event;

use sea_orm::{ColumnTrait, EntityTrait, PrimaryKeyTrait, QueryFilter, Select};
use uuid::Uuid;

/// An entity whose rows belong to one workspace.
pub trait WorkspaceScoped: EntityTrait {
    /// The column holding the owning workspace's id.
    fn workspace_column() -> Self::Column;

    /// Every row of `workspace_id`.
    fn find_in_workspace(workspace_id: Uuid) -> Select<Self> {
        Self::find().filter(Self::workspace_column().eq(workspace_id))
    }

    /// The row `id`, only if it belongs to `workspace_id`.
    fn find_by_id_in_workspace(workspace_id: Uuid, id: Uuid) -> Select<Self>
    where
        <Self::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
    {
        Self::find_by_id(id).filter(Self::workspace_column().eq(workspace_id))
    }
}

macro_rules! workspace_scoped {
    ($($module:ident),* $(,)?) => {$(
        impl WorkspaceScoped for $module::Entity {
            fn workspace_column() -> Self::Column {
                $module::Column::WorkspaceId
            }
        }
    )*};
}

workspace_scoped!(
    api_key,
    auto_reply,
    auto_reply_setting,
    contact,
    conversation,
    member,
    message,
    message_template,
    send_attempt,
    sender,
    webhook_delivery,
    webhook_endpoint,
    workspace_event
);

/// A new primary key: UUID v7, so ids sort by creation time.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}
