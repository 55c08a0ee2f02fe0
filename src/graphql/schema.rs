//! Builds the schema and exports its SDL (`parley schema`, kept in `schema.graphql`).

use std::sync::Arc;

use async_graphql::{SDLExportOptions, Schema};
use sea_orm::DatabaseConnection;

use super::{loader, mutation::Mutation, query::Query, subscription::Subscription};
use crate::{config::Config, db::ServerSecrets, events::EventBus};

pub type ParleySchema = Schema<Query, Mutation, Subscription>;

/// Deepest selection accepted; deeper documents are refused before they run.
const MAX_DEPTH: usize = 16;
/// Largest complexity accepted (every field counts one, lists by their page size).
const MAX_COMPLEXITY: usize = 5_000;

/// What resolvers reach through the context.
pub struct SchemaDeps {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub secrets: Arc<ServerSecrets>,
    pub events: EventBus,
}

pub fn build_schema(deps: Option<SchemaDeps>) -> ParleySchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), Subscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY);
    if let Some(deps) = deps {
        builder = loader::register(builder, &deps.db);
        builder = builder
            .data(deps.db)
            .data(deps.config)
            .data(deps.secrets)
            .data(deps.events);
    }
    builder.finish()
}

/// The schema's SDL, sorted so that the checked-in copy diffs cleanly.
pub fn sdl() -> String {
    build_schema(None).sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}
