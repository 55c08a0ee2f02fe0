//! The GraphQL API: schema, resolvers by area, and the HTTP/websocket endpoints on `/graphql`.

pub(crate) mod connection;
mod guard;
pub(crate) mod limits;
mod loader;
mod mutation;
pub mod object;
mod query;
pub mod routes;
mod schema;
pub mod shared;
mod subscription;
mod ws;

use async_graphql::{Context, ID};
use entity::WorkspaceScoped;
use sea_orm::{DatabaseConnection, PrimaryKeyTrait};
use uuid::Uuid;

pub use routes::GraphqlState;
pub use schema::{ParleySchema, build_schema, sdl};
pub use shared::SharedSubscriptions;
pub use ws::bound_unsent;

use crate::error::AppError;

/// The id of a `what`. A malformed id is simply one that does not exist: `not_found`, exactly as
/// for an id of another workspace.
pub(crate) fn parse_id(id: &ID, what: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| AppError::not_found(what))
}

/// The `what` named `id` in the caller's workspace: `not_found` when it does not exist, when it
/// is another workspace's, and when `id` is malformed alike.
pub(crate) async fn find_in_workspace<E>(
    ctx: &Context<'_>,
    id: &ID,
    what: &str,
) -> Result<E::Model, AppError>
where
    E: WorkspaceScoped,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let db = ctx
        .data::<DatabaseConnection>()
        .map_err(|_| anyhow::anyhow!("the schema has no database"))?;
    let id = parse_id(id, what)?;
    E::find_by_id_in_workspace(guard::principal(ctx)?.workspace_id, id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(what))
}
