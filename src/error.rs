//! One error type for the whole server.
//!
//! - A client's mistake is an [`AppError::Client`] with one of the contract's [`ErrorCode`]s and a
//!   message meant for the client; it is returned as is.
//! - Anything else (a failed query, a bug) is [`AppError::Internal`]: logged with its context and
//!   answered with an opaque `internal_error`, never with its details.
//! - A database that cannot serve for now — unreachable, restarting, or out of disk space — is
//!   [`AppError::Unavailable`]: 503, so that clients retry.
//!
//! REST turns an error into `{"error": {"code", "message", "status"}}`; GraphQL puts the same code
//! in `extensions.code`.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use sea_orm::{DbErr, RuntimeErr};
use serde_json::json;

use crate::domain::{NameError, phone::PhoneError};

/// The contract's error codes, spelled as clients see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    MissingBearerToken,
    InvalidBearerToken,
    InsufficientScope,
    Forbidden,
    InvalidRequest,
    InvalidPhoneNumber,
    InvalidMediaUrl,
    WhatsappNotConfigured,
    WhatsappNotConnected,
    SenderSelectionForbidden,
    SenderNotAllowed,
    RecipientNotFound,
    CustomerServiceWindowClosed,
    IdempotencyConflict,
    RateLimited,
    TemplateMalformed,
    MetaError,
    NotFound,
    PayloadTooLarge,
    InvalidCredentials,
    SignupClosed,
    DeliveryUnknown,
}

impl ErrorCode {
    /// Codes a send attempt can fail with, as stored on the attempt.
    const DELIVERY: [ErrorCode; 7] = [
        Self::RecipientNotFound,
        Self::CustomerServiceWindowClosed,
        Self::WhatsappNotConnected,
        Self::TemplateMalformed,
        Self::RateLimited,
        Self::MetaError,
        Self::DeliveryUnknown,
    ];

    /// The code of a failed send attempt; anything unknown is Meta's doing.
    pub fn of_failed_attempt(stored: Option<&str>) -> Self {
        Self::DELIVERY
            .into_iter()
            .find(|code| Some(code.as_str()) == stored)
            .unwrap_or(Self::MetaError)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingBearerToken => "missing_bearer_token",
            Self::InvalidBearerToken => "invalid_bearer_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::Forbidden => "forbidden",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidPhoneNumber => "invalid_phone_number",
            Self::InvalidMediaUrl => "invalid_media_url",
            Self::WhatsappNotConfigured => "whatsapp_not_configured",
            Self::WhatsappNotConnected => "whatsapp_not_connected",
            Self::SenderSelectionForbidden => "sender_selection_forbidden",
            Self::SenderNotAllowed => "sender_not_allowed",
            Self::RecipientNotFound => "recipient_not_found",
            Self::CustomerServiceWindowClosed => "customer_service_window_closed",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::RateLimited => "rate_limited",
            Self::TemplateMalformed => "template_malformed",
            Self::MetaError => "meta_error",
            Self::NotFound => "not_found",
            Self::PayloadTooLarge => "payload_too_large",
            Self::InvalidCredentials => "invalid_credentials",
            Self::SignupClosed => "signup_closed",
            Self::DeliveryUnknown => "delivery_unknown",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingBearerToken | Self::InvalidBearerToken | Self::InvalidCredentials => {
                StatusCode::UNAUTHORIZED
            }
            Self::InsufficientScope
            | Self::Forbidden
            | Self::SenderSelectionForbidden
            | Self::SenderNotAllowed
            | Self::SignupClosed => StatusCode::FORBIDDEN,
            Self::InvalidRequest
            | Self::InvalidPhoneNumber
            | Self::InvalidMediaUrl
            | Self::WhatsappNotConfigured
            | Self::TemplateMalformed => StatusCode::BAD_REQUEST,
            Self::WhatsappNotConnected
            | Self::CustomerServiceWindowClosed
            | Self::IdempotencyConflict => StatusCode::CONFLICT,
            Self::RecipientNotFound | Self::NotFound => StatusCode::NOT_FOUND,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::MetaError => StatusCode::BAD_GATEWAY,
            Self::DeliveryUnknown => StatusCode::GATEWAY_TIMEOUT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

/// Deliberately not `Display`: async-graphql turns any `Display` error into a client-visible
/// message, which would leak internal errors; [`From<AppError>`] for GraphQL errors is the only way.
#[derive(Debug)]
pub enum AppError {
    Client { code: ErrorCode, message: String },
    Unavailable(DbErr),
    Internal(anyhow::Error),
}

impl AppError {
    pub fn client(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Client {
            code,
            message: message.into(),
        }
    }

    /// `invalid_request`: the most common client mistake, a field that breaks a rule.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::client(ErrorCode::InvalidRequest, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::client(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// The code a client sees.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Client { code, .. } => code.as_str(),
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Client { code, .. } => code.status(),
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client sees: internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            Self::Client { message, .. } => message.clone(),
            Self::Unavailable(error) if is_storage_full(error) => {
                "the service cannot store data right now; retry later".into()
            }
            Self::Unavailable(_) => "the service is temporarily unavailable; retry later".into(),
            Self::Internal(_) => "internal error".into(),
        }
    }

    fn log(&self) {
        match self {
            Self::Client { .. } => {}
            // Full storage needs an operator; an unreachable database usually comes back alone.
            Self::Unavailable(error) if is_storage_full(error) => {
                tracing::error!(error = %error, "database storage full")
            }
            Self::Unavailable(error) => tracing::warn!(error = %error, "database unavailable"),
            Self::Internal(error) => tracing::error!(error = ?error, "internal error"),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(error: anyhow::Error) -> Self {
        Self::Internal(error)
    }
}

impl From<NameError> for AppError {
    fn from(error: NameError) -> Self {
        Self::invalid(error.to_string())
    }
}

impl From<PhoneError> for AppError {
    fn from(error: PhoneError) -> Self {
        Self::client(ErrorCode::InvalidPhoneNumber, error.to_string())
    }
}

impl From<DbErr> for AppError {
    fn from(error: DbErr) -> Self {
        if is_unavailable(&error) {
            Self::Unavailable(error)
        } else {
            Self::Internal(error.into())
        }
    }
}

/// Postgres SQLSTATEs of a server that is going away or not there yet: class 08 (connection
/// exception) is matched by prefix.
const PG_UNAVAILABLE: [&str; 4] = [
    "57P01", // admin_shutdown: stopped under a running query
    "57P02", // crash_shutdown
    "57P03", // cannot_connect_now: starting up or shutting down
    "53300", // too_many_connections
];
/// Postgres `disk_full`, and SQLite's `SQLITE_FULL` (which it also reports for `ENOSPC`).
const STORAGE_FULL: [&str; 2] = ["53100", "13"];

/// Whether `error` says the database cannot serve for now rather than that the query is wrong:
/// no connection (refused, dropped mid-query, pool timed out), a server shutting down or
/// starting, or full storage. Which of these a failed query reports depends on where it was
/// when the database went away, so all of them count.
pub fn is_unavailable(error: &DbErr) -> bool {
    if matches!(error, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    match driver_error(error) {
        Some(
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed,
        ) => true,
        Some(sqlx::Error::Database(error)) => error.code().is_some_and(|code| {
            code.starts_with("08")
                || PG_UNAVAILABLE.contains(&code.as_ref())
                || STORAGE_FULL.contains(&code.as_ref())
        }),
        _ => false,
    }
}

/// Whether `error` is the database running out of disk space.
fn is_storage_full(error: &DbErr) -> bool {
    match driver_error(error) {
        Some(sqlx::Error::Database(error)) => error
            .code()
            .is_some_and(|code| STORAGE_FULL.contains(&code.as_ref())),
        _ => false,
    }
}

fn driver_error(error: &DbErr) -> Option<&sqlx::Error> {
    match error {
        DbErr::Conn(RuntimeErr::SqlxError(error))
        | DbErr::Exec(RuntimeErr::SqlxError(error))
        | DbErr::Query(RuntimeErr::SqlxError(error)) => Some(error),
        _ => None,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let body = json!({
            "error": {
                "code": self.code(),
                "message": self.public_message(),
                "status": status.as_u16(),
            }
        });
        (status, axum::Json(body)).into_response()
    }
}

impl AppError {
    /// The error as a whole GraphQL response, for failures before the schema runs.
    pub fn into_graphql_response(self) -> Response {
        self.log();
        let status = self.status();
        let body = json!({
            "errors": [{
                "message": self.public_message(),
                "extensions": {"code": self.code()},
            }]
        });
        (status, axum::Json(body)).into_response()
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        use async_graphql::ErrorExtensions;
        error.log();
        let code = error.code();
        async_graphql::Error::new(error.public_message()).extend_with(|_, extensions| {
            extensions.set("code", code);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_are_opaque() {
        let response =
            AppError::Internal(anyhow::anyhow!("password=hunter2 leaked")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(!body.contains("hunter2"));
        assert!(body.contains("\"internal_error\""));
    }

    /// A driver error with only a code, as Postgres (SQLSTATE) and SQLite (result code) report.
    #[derive(Debug, thiserror::Error)]
    #[error("database error {0}")]
    struct Coded(&'static str);

    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn exec(error: sqlx::Error) -> DbErr {
        DbErr::Exec(RuntimeErr::SqlxError(error.into()))
    }

    fn query(error: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(error.into()))
    }

    fn coded(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Coded(code)))
    }

    fn io(kind: std::io::ErrorKind) -> sqlx::Error {
        sqlx::Error::Io(kind.into())
    }

    #[test]
    fn every_flavour_of_an_unreachable_database_is_503() {
        use std::io::ErrorKind::{BrokenPipe, ConnectionRefused, ConnectionReset, UnexpectedEof};
        let unreachable = [
            DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::ConnectionClosed),
            DbErr::Conn(RuntimeErr::SqlxError(io(ConnectionRefused).into())),
            // A pooled connection that broke under a query or a commit.
            exec(io(BrokenPipe)),
            query(io(ConnectionReset)),
            query(io(UnexpectedEof)),
            query(sqlx::Error::PoolTimedOut),
            exec(sqlx::Error::PoolClosed),
            exec(sqlx::Error::WorkerCrashed),
            // Postgres stopping under a query, starting up, or refusing connections.
            query(coded("57P01")),
            exec(coded("57P02")),
            query(coded("57P03")),
            query(coded("08006")),
            query(coded("08001")),
            exec(coded("53300")),
        ];
        for error in unreachable {
            assert_503_saying(error, "temporarily unavailable");
        }
    }

    /// `error` as the client sees it: 503 `service_unavailable` with a message containing `says`.
    fn assert_503_saying(error: DbErr, says: &str) {
        let described = format!("{error:?}");
        let error = AppError::from(error);
        assert_eq!(
            error.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{described}"
        );
        assert_eq!(error.code(), "service_unavailable", "{described}");
        assert!(error.public_message().contains(says), "{described}");
    }

    #[test]
    fn full_storage_is_503_saying_so() {
        // Postgres `disk_full` ("could not extend file") and SQLite's SQLITE_FULL.
        for error in [
            exec(coded("53100")),
            query(coded("53100")),
            exec(coded("13")),
        ] {
            assert_503_saying(error, "cannot store data");
        }
    }

    #[test]
    fn other_database_errors_stay_internal() {
        for error in [
            exec(coded("23505")),  // Postgres unique violation
            exec(coded("2067")),   // SQLite unique violation
            query(coded("42P01")), // undefined table
            query(sqlx::Error::RowNotFound),
            query(sqlx::Error::Protocol("unexpected message".into())),
            DbErr::RecordNotFound("message".into()),
            DbErr::Custom("anything".into()),
        ] {
            let described = format!("{error:?}");
            let error = AppError::from(error);
            assert_eq!(
                error.status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{described}"
            );
        }
    }

    #[test]
    fn client_errors_keep_their_code_and_status() {
        let error = AppError::client(ErrorCode::IdempotencyConflict, "different body");
        assert_eq!(error.code(), "idempotency_conflict");
        assert_eq!(error.status(), StatusCode::CONFLICT);
    }
}
