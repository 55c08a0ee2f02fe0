//! Builds the schema and exports its SDL (`parley schema`, kept in `schema.graphql`).

use async_graphql::{EmptyMutation, EmptySubscription, SDLExportOptions, Schema};
use sea_orm::DatabaseConnection;

use super::{object, query::Query};

pub type ParleySchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Deepest selection accepted; deeper documents are refused before they run.
const MAX_DEPTH: usize = 16;
/// Largest complexity accepted (every field counts one, lists by their page size).
const MAX_COMPLEXITY: usize = 5_000;

pub fn build_schema(db: Option<DatabaseConnection>) -> ParleySchema {
    let mut builder = Schema::build(Query::default(), EmptyMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        // The model's types are part of the API before every query that returns them exists.
        .register_output_type::<object::Contact>()
        .register_output_type::<object::Conversation>()
        .register_output_type::<object::Message>()
        .register_output_type::<object::SendAttempt>()
        .register_output_type::<object::Sender>()
        .register_output_type::<object::ApiKey>();
    if let Some(db) = db {
        builder = builder.data(db);
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
