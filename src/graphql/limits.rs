//! What a GraphQL client may ask of the server, and the errors it gets beyond that.
//!
//! Depth and complexity are async-graphql's own checks (every selected field counts towards the
//! complexity, aliased ones included, and a list by its page size); this module adds the rest as a
//! schema extension, so that `POST /graphql` and both websocket protocols are held to the same
//! limits, and gives every refusal an `extensions.code`:
//!
//! | code | when |
//! |---|---|
//! | `query_too_large` | the document is longer than `PARLEY_GRAPHQL_MAX_QUERY_BYTES` |
//! | `query_too_deep` | nested deeper than `PARLEY_GRAPHQL_MAX_DEPTH` (or than the parser allows) |
//! | `query_too_complex` | more than `PARLEY_GRAPHQL_MAX_COMPLEXITY` |
//! | `too_many_directives` | more than `PARLEY_GRAPHQL_MAX_DIRECTIVES` directives in the document |
//! | `introspection_disabled` | `__schema` or `__type` while `PARLEY_GRAPHQL_INTROSPECTION=false` |
//! | `batch_too_large` | a batched POST of more than `PARLEY_GRAPHQL_MAX_BATCH` operations |
//! | `timeout` | a query or mutation still running after `PARLEY_GRAPHQL_TIMEOUT_MS` |
//! | `graphql_parse_failed` | not a GraphQL document |
//! | `graphql_validation_failed` | not valid against the schema |

use std::{sync::Arc, time::Duration};

use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
        NextPrepareRequest, NextValidation,
    },
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::config::Config;

/// The limits, read once from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_directives: usize,
    pub max_query_bytes: usize,
    pub timeout: Duration,
    pub introspection: bool,
    pub suggestions: bool,
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_depth: config.graphql_max_depth,
            max_complexity: config.graphql_max_complexity,
            max_directives: config.graphql_max_directives,
            max_query_bytes: config.graphql_max_query_bytes,
            timeout: Duration::from_millis(config.graphql_timeout_ms),
            introspection: config.graphql_introspection,
            suggestions: config.graphql_suggestions,
        }
    }
}

/// A GraphQL error with a code, as the limits answer.
pub fn error(code: &str, message: impl Into<String>) -> ServerError {
    with_code(ServerError::new(message, None), code)
}

fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|extensions| extensions.get("code").is_some());
    if !has_code {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
    error
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Limits {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if request.query.len() > self.max_query_bytes {
            return Err(error(
                "query_too_large",
                format!(
                    "the query is {} bytes long; at most {} are accepted",
                    request.query.len(),
                    self.max_query_bytes
                ),
            ));
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await.map_err(|error| {
            // The parser's own bounds on nesting; its message would quote the whole document.
            if error.message.ends_with("recursion limit exceeded.")
                || error.message.ends_with("stack limit reached")
            {
                self::error("query_too_deep", "the query is nested too deep to parse")
            } else {
                with_code(error, "graphql_parse_failed")
            }
        })?;
        let shape = Shape::of(&document);
        if shape.directives > self.max_directives {
            return Err(error(
                "too_many_directives",
                format!(
                    "the query has {} directives; at most {} are accepted",
                    shape.directives, self.max_directives
                ),
            ));
        }
        if shape.introspects && !self.introspection {
            return Err(error(
                "introspection_disabled",
                "introspection (__schema, __type) is turned off on this server",
            ));
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|error| {
                    let code = match error.message.as_str() {
                        "Query is too complex." => "query_too_complex",
                        "Query is nested too deep." => "query_too_deep",
                        _ => "graphql_validation_failed",
                    };
                    with_code(error, code)
                })
                .collect()
        })
    }

    /// Queries and mutations only: a subscription's stream runs as long as its client wants.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        match tokio::time::timeout(self.timeout, next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_elapsed) => Response::from_errors(vec![error(
                "timeout",
                format!(
                    "the operation did not finish within {} ms",
                    self.timeout.as_millis()
                ),
            )]),
        }
    }
}

/// What the limits look at in a parsed document.
#[derive(Debug, Default, PartialEq, Eq)]
struct Shape {
    /// Directives anywhere: operations, variables, fields, fragments and their spreads.
    directives: usize,
    /// Whether it selects `__schema` or `__type` anywhere.
    introspects: bool,
}

impl Shape {
    fn of(document: &ExecutableDocument) -> Self {
        let mut shape = Shape::default();
        let mut pending: Vec<&SelectionSet> = Vec::new();
        for (_, operation) in document.operations.iter() {
            let operation = &operation.node;
            shape.directives += operation.directives.len();
            shape.directives += operation
                .variable_definitions
                .iter()
                .map(|variable| variable.node.directives.len())
                .sum::<usize>();
            pending.push(&operation.selection_set.node);
        }
        for fragment in document.fragments.values() {
            shape.directives += fragment.node.directives.len();
            pending.push(&fragment.node.selection_set.node);
        }
        // A stack rather than recursion: the parser bounds the nesting, but this need not rely on it.
        while let Some(selection_set) = pending.pop() {
            for selection in &selection_set.items {
                shape.directives += selection.node.directives().len();
                match &selection.node {
                    Selection::Field(field) => {
                        let name = field.node.name.node.as_str();
                        shape.introspects |= name == "__schema" || name == "__type";
                        pending.push(&field.node.selection_set.node);
                    }
                    Selection::InlineFragment(fragment) => {
                        pending.push(&fragment.node.selection_set.node);
                    }
                    Selection::FragmentSpread(_) => {}
                }
            }
        }
        shape
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    #[test]
    fn directives_are_counted_everywhere() {
        let document = parse_query(
            "query Q($a: Boolean @d) @d { x @skip(if: $a) @include(if: true) { ...F @d ... on T @d { y } } }
             fragment F on T @d { z @d }",
        )
        .unwrap();
        assert_eq!(
            Shape::of(&document),
            Shape {
                directives: 8,
                introspects: false
            }
        );
    }

    #[test]
    fn introspection_is_found_in_fragments() {
        let document = parse_query(
            "{ viewer { id } ...F } fragment F on Query { __type(name: \"X\") { name } }",
        )
        .unwrap();
        assert!(Shape::of(&document).introspects);
        let document = parse_query("{ viewer { __typename } }").unwrap();
        assert!(!Shape::of(&document).introspects);
    }
}
