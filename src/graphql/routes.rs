//! `/graphql`: POST runs queries and mutations; GET serves GraphiQL, or upgrades to a websocket
//! speaking `graphql-transport-ws` (served by [`super::ws`]) or the legacy `graphql-ws`,
//! authenticated by the `connection_init` payload `{"authorization": "Bearer …"}`.

use async_graphql::{BatchRequest, Data, http::GraphiQLSource};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::{
    Extension,
    body::Bytes,
    extract::{State, WebSocketUpgrade, ws::rejection::WebSocketUpgradeRejection},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use super::{ParleySchema, SharedSubscriptions, limits, ws};
use crate::{
    auth::extract::Authenticated,
    error::{AppError, ErrorCode},
    services::Services,
};

/// What `/graphql` serves from: the services, the schema, and the subscription executions that
/// identical subscriptions share.
#[derive(Clone)]
pub struct GraphqlState {
    pub services: Services,
    pub schema: ParleySchema,
    pub subscriptions: SharedSubscriptions,
}

/// Runs a GraphQL request or batch as the request's principal. The body is read through the
/// server's body-size limit (async-graphql's own extractor would read the stream unbounded).
pub async fn post(
    State(state): State<GraphqlState>,
    Extension(Authenticated(principal)): Extension<Authenticated>,
    body: Bytes,
) -> Response {
    let request: BatchRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return AppError::client(
                ErrorCode::InvalidRequest,
                format!("the body is not a GraphQL request: {error}"),
            )
            .into_graphql_response();
        }
    };
    if let BatchRequest::Batch(requests) = &request {
        let max = state.services.config.graphql_max_batch;
        if requests.len() > max {
            let error = limits::error(
                "batch_too_large",
                format!(
                    "the batch has {} operations; at most {max} are accepted",
                    requests.len()
                ),
            );
            let response = async_graphql::Response::from_errors(vec![error]);
            return (
                StatusCode::BAD_REQUEST,
                GraphQLResponse::from(response).into_response(),
            )
                .into_response();
        }
    }
    let request = match principal {
        Some(principal) => request.data(principal),
        None => request,
    };
    GraphQLResponse::from(state.schema.execute_batch(request).await).into_response()
}

pub async fn get(
    State(state): State<GraphqlState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    protocol: Result<GraphQLProtocol, StatusCode>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql")
                .title("Parley GraphiQL")
                .finish(),
        )
        .into_response();
    };
    let Ok(protocol) = protocol else {
        return AppError::client(
            ErrorCode::InvalidRequest,
            "websocket subprotocol must be graphql-transport-ws or graphql-ws",
        )
        .into_graphql_response();
    };
    if offers_transport_ws(&headers) {
        return upgrade
            .protocols(["graphql-transport-ws"])
            .read_buffer_size(ws::READ_BUFFER_BYTES)
            .write_buffer_size(ws::WRITE_BUFFER_BYTES)
            .max_write_buffer_size(ws::MAX_WRITE_BUFFER_BYTES)
            .max_message_size(ws::MAX_MESSAGE_BYTES)
            .on_upgrade(move |socket| ws::serve(socket, state));
    }
    // The legacy subscriptions-transport-ws protocol (subprotocol `graphql-ws`), as async-graphql
    // serves it.
    let schema = state.schema.clone();
    upgrade
        .protocols(["graphql-ws"])
        .max_message_size(ws::MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| connection_init(state, payload))
                .serve()
        })
}

/// Whether the client offers `graphql-transport-ws` among its websocket subprotocols.
fn offers_transport_ws(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case("graphql-transport-ws"))
}

/// Authenticates a legacy websocket from its `connection_init` payload; without one the
/// connection stays anonymous, and fields that need a principal refuse with
/// `missing_bearer_token`.
async fn connection_init(
    state: GraphqlState,
    payload: serde_json::Value,
) -> async_graphql::Result<Data> {
    let mut data = Data::default();
    if let Some(principal) = ws::authenticate(&state, Some(payload)).await? {
        data.insert(principal);
    }
    Ok(data)
}
