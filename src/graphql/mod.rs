//! The GraphQL API: schema, resolvers by area, and the HTTP/websocket endpoints on `/graphql`.

mod guard;
pub(crate) mod limits;
pub(crate) mod lists;
mod loader;
mod mutation;
pub mod object;
pub(crate) mod pagination;
mod query;
pub mod routes;
mod schema;
pub mod shared;
mod subscription;
mod ws;

use async_graphql::ID;
use uuid::Uuid;

pub use schema::{ParleySchema, SchemaDeps, build_schema, sdl};
pub use shared::SharedSubscriptions;
pub use ws::bound_unsent;

use crate::error::AppError;

/// The id of a `what`. A malformed id is simply one that does not exist: `not_found`, exactly as
/// for an id of another workspace.
pub(crate) fn parse_id(id: &ID, what: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| AppError::not_found(what))
}
