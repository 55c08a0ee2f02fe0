//! Authentication as middleware: the bearer token is resolved once per request, rate-limited when
//! it is an API key, and left in the request's extensions as [`Authenticated`]. REST handlers
//! take a [`Principal`] argument; the GraphQL handler hands it to the schema as data.

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::Utc;

use super::{Principal, authenticate, bearer_token};
use crate::{
    error::{AppError, ErrorCode},
    ratelimit::{self, RateLimitDecision},
    services::Services,
};

/// The outcome of authentication for this request: `None` when it carried no token.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Option<Principal>);

/// How errors are written on the surface the middleware guards.
#[derive(Clone, Copy, Debug)]
pub enum Surface {
    /// `{"error": {"code", "message", "status"}}`
    Rest,
    /// `{"errors": [{"message", "extensions": {"code"}}]}`
    GraphQl,
}

impl Surface {
    fn render(self, error: AppError) -> Response {
        match self {
            Surface::Rest => error.into_response(),
            Surface::GraphQl => error.into_graphql_response(),
        }
    }
}

pub async fn authenticate_request(
    State((state, surface)): State<(Services, Surface)>,
    mut request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or("\u{0}"));
    let principal = match bearer_token(header) {
        Ok(None) => None,
        Ok(Some(token)) => match authenticate(&state.db, &state.secrets.jwt_secret, token).await {
            Ok(principal) => Some(principal),
            Err(error) => return surface.render(error),
        },
        Err(error) => return surface.render(error),
    };

    let decision = match principal.as_ref().and_then(|p| p.api_key.as_ref()) {
        Some(key) => {
            match ratelimit::hit(&state.db, key.id, key.rate_limit_per_minute, Utc::now()).await {
                Ok(decision) => Some(decision),
                Err(error) => return surface.render(error.into()),
            }
        }
        None => None,
    };
    if let Some(decision) = decision.as_ref().filter(|decision| !decision.allowed) {
        let error = AppError::client(
            ErrorCode::RateLimited,
            format!(
                "this API key may make {} requests per minute; retry after the reset",
                decision.limit
            ),
        );
        let mut response = surface.render(error);
        let retry_after = decision.retry_after_secs(Utc::now().timestamp());
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        set_rate_limit_headers(response.headers_mut(), decision);
        return response;
    }

    request.extensions_mut().insert(Authenticated(principal));
    let mut response = next.run(request).await;
    if let Some(decision) = &decision {
        set_rate_limit_headers(response.headers_mut(), decision);
    }
    response
}

fn set_rate_limit_headers(headers: &mut HeaderMap, decision: &RateLimitDecision) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(decision.remaining),
    );
    headers.insert("x-ratelimit-reset", HeaderValue::from(decision.reset_at));
}

/// A REST handler's caller; refuses the request with `missing_bearer_token` when there is none.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            Some(Authenticated(Some(principal))) => Ok(principal.clone()),
            _ => Err(missing_token()),
        }
    }
}

pub fn missing_token() -> AppError {
    AppError::client(
        ErrorCode::MissingBearerToken,
        "send Authorization: Bearer <token> (a member token or an API key)",
    )
}
