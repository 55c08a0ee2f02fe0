//! The GraphQL API: schema, resolvers by area, and the HTTP/websocket endpoints on `/graphql`.

pub mod object;
mod query;
pub mod routes;
mod schema;

pub use schema::{ParleySchema, build_schema, sdl};
