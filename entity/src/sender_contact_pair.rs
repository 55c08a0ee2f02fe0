//! Meta's pair rate: when a sender may next message a contact.
//! The dispatcher moves `next_send_at` on with a guarded upsert just before each send.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sender_contact_pairs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sender_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub contact_id: Uuid,
    pub next_send_at: DateTimeUtc,
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
    #[sea_orm(
        belongs_to = "super::contact::Entity",
        from = "Column::ContactId",
        to = "super::contact::Column::Id",
        on_delete = "Cascade"
    )]
    Contact,
}

impl ActiveModelBehavior for ActiveModel {}
