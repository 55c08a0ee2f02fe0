//! How many messages each sender has queued per UTC day: the row its daily cap is checked against,
//! incremented in the transaction that queues a send.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sender_daily_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sender_id: Uuid,
    /// `YYYY-MM-DD`, UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    pub count: i32,
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
