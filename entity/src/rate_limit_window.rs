//! One subject's request count in one minute, the state behind `parley::ratelimit`. Keyed by
//! subject rather than workspace: a subject is an API key or a member, whichever is limited.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit_windows")]
pub struct Model {
    /// The API key or member being limited.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject_id: Uuid,
    /// Unix seconds at the start of the minute.
    #[sea_orm(primary_key, auto_increment = false)]
    pub window_start: i64,
    /// Requests seen in this window, refused ones included.
    pub count: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
