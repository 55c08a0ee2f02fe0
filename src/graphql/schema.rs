//! Builds the schema and exports its SDL (`parley schema`, kept in `schema.graphql`).

use async_graphql::{SDLExportOptions, Schema};

use super::{limits::Limits, loader, mutation::Mutation, query::Query, subscription::Subscription};
use crate::{config::Config, services::Services};

pub type ParleySchema = Schema<Query, Mutation, Subscription>;

/// The schema, held to the configured [`Limits`] (the defaults' without `deps`, as for the SDL).
/// Resolvers reach the parts of `deps` through the context.
pub fn build_schema(deps: Option<Services>) -> ParleySchema {
    let limits = match &deps {
        Some(deps) => Limits::from_config(&deps.config),
        None => Limits::from_config(&Config::default()),
    };
    let mut builder = Schema::build(Query::default(), Mutation::default(), Subscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .extension(limits);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if !limits.suggestions {
        builder = builder.disable_suggestions();
    }
    if let Some(deps) = deps {
        builder = loader::register(builder, &deps.db);
        builder = builder
            .data(deps.db.clone())
            .data(deps.config.clone())
            .data(deps.secrets.clone())
            .data(deps.events.clone())
            .data(deps);
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
