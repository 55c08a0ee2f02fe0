//! The REST API under `/api/v1`, for automations holding an API key, and its OpenAPI document.
//! Every route runs behind the authentication middleware, so every response carries the calling
//! key's `X-RateLimit-*` headers.

mod contacts;
pub mod messages;

use axum::{
    Json, Router, middleware,
    routing::{get, post},
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{
    auth::extract::{Surface, authenticate_request},
    services::Services,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Parley REST API",
        description = "Send WhatsApp messages, read their status, and read contacts and their \
                       message history. Authenticate with `Authorization: Bearer <API key>`."
    ),
    paths(
        messages::send_a,
        messages::send_b,
        messages::get_send_attempt,
        contacts::list_contacts,
        contacts::get_contact,
        contacts::list_contact_messages
    ),
    components(schemas(
        messages::SendBody,
        messages::SendResponseA,
        messages::SendResponseB,
        messages::SendAttemptStatusResponse,
        contacts::ContactResponse,
        contacts::ContactPage,
        contacts::MessageResponse,
        contacts::MessagePage,
        contacts::Pagination,
        ErrorBody,
        ErrorDetail
    )),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The refusals every route for a key may answer: its credential, its scope and its rate limit.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum KeyRefusals {
    #[response(
        status = 401,
        description = "missing_bearer_token or invalid_bearer_token"
    )]
    Unauthenticated(ErrorBody),
    #[response(status = 403, description = "insufficient_scope")]
    Forbidden(ErrorBody),
    #[response(status = 429, description = "rate_limited")]
    RateLimited(ErrorBody),
}

/// The error envelope of every REST error.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// One of the contract's codes, e.g. `invalid_bearer_token`.
    code: String,
    message: String,
    status: u16,
}

/// The `/api/v1` routes, serving from `services` whatever the state of the router they join.
pub fn router<S>(services: Services) -> Router<S> {
    Router::new()
        .route("/messages/send", post(messages::send_a))
        .route("/messages", post(messages::send_b))
        .route(
            "/messages/{send_attempt_id}",
            get(messages::get_send_attempt),
        )
        .route("/contacts", get(contacts::list_contacts))
        .route("/contacts/{phone}", get(contacts::get_contact))
        .route(
            "/contacts/{phone}/messages",
            get(contacts::list_contact_messages),
        )
        .layer(middleware::from_fn_with_state(
            (services.clone(), Surface::Rest),
            authenticate_request,
        ))
        .with_state(services)
}

/// `GET /openapi.json`
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_document())
}

/// The document as checked in (`openapi.json`): pretty JSON with a final newline.
pub fn openapi_text() -> String {
    let mut text =
        serde_json::to_string_pretty(&openapi_document()).expect("the OpenAPI document serialises");
    text.push('\n');
    text
}

pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.openapi = utoipa::openapi::OpenApiVersion::Version31;
    document
}
