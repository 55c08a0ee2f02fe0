//! `/graphql`: POST runs queries and mutations; GET serves GraphiQL, or upgrades to a websocket
//! speaking `graphql-transport-ws` (or the legacy `graphql-ws`).

use async_graphql::{BatchRequest, http::GraphiQLSource};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::{
    body::Bytes,
    extract::{State, WebSocketUpgrade, ws::rejection::WebSocketUpgradeRejection},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use serde_json::json;

use crate::app::AppState;

/// Runs a GraphQL request or batch. The body is read through the server's body-size limit
/// (async-graphql's own extractor would read the stream unbounded).
pub async fn post(State(state): State<AppState>, body: Bytes) -> Response {
    let request: BatchRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(&format!("the body is not a GraphQL request: {error}")),
    };
    GraphQLResponse::from(state.schema.execute_batch(request).await).into_response()
}

pub async fn get(
    State(state): State<AppState>,
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
        return bad_request("websocket subprotocol must be graphql-transport-ws or graphql-ws");
    };
    let schema = state.schema.clone();
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| GraphQLWebSocket::new(socket, schema, protocol).serve())
}

fn bad_request(message: &str) -> Response {
    let body = json!({"errors": [{"message": message, "extensions": {"code": "invalid_request"}}]});
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}
