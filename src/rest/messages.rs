//! `/api/v1/messages`: the Send API's status polling.

use axum::{Json, extract::Path, extract::State};
use chrono::{DateTime, Utc};
use entity::{
    WorkspaceScoped, message, message::MessageStatus, send_attempt, send_attempt::SendAttemptState,
};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    app::AppState,
    auth::{Principal, Scope},
    error::AppError,
};

/// Where a send stands, in the Send API's shape.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendAttemptStatusResponse {
    pub send_attempt_id: Uuid,
    /// `queued`, `sending`, `accepted` or `failed`.
    pub status: &'static str,
    /// WhatsApp's message id (wamid), once accepted.
    pub message_id: Option<String>,
    /// `<wa_id>@s.whatsapp.net`, once accepted.
    pub remote_jid: Option<String>,
    /// `pending`, `sent`, `delivered`, `read` or `failed`.
    pub delivery_status: &'static str,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn attempt_status(state: SendAttemptState) -> &'static str {
    match state {
        SendAttemptState::Queued => "queued",
        SendAttemptState::Sending => "sending",
        SendAttemptState::Accepted => "accepted",
        SendAttemptState::Failed => "failed",
    }
}

fn delivery_status(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Pending => "pending",
        MessageStatus::Sent => "sent",
        MessageStatus::Delivered => "delivered",
        MessageStatus::Read => "read",
        MessageStatus::Failed => "failed",
    }
}

/// A send attempt's status (scope `messages:send` or `messages:read`).
#[utoipa::path(
    get,
    path = "/api/v1/messages/{send_attempt_id}",
    params(("send_attempt_id" = String, Path, description = "The sendAttemptId a send returned")),
    responses(
        (status = 200, body = SendAttemptStatusResponse),
        (status = 401, body = super::ErrorBody, description = "missing_bearer_token or invalid_bearer_token"),
        (status = 403, body = super::ErrorBody, description = "insufficient_scope"),
        (status = 404, body = super::ErrorBody, description = "not_found"),
        (status = 429, body = super::ErrorBody, description = "rate_limited"),
    ),
    tag = "messages"
)]
pub async fn get_send_attempt(
    State(state): State<AppState>,
    principal: Principal,
    Path(send_attempt_id): Path<String>,
) -> Result<Json<SendAttemptStatusResponse>, AppError> {
    principal.require_any_scope(&[Scope::MessagesSend, Scope::MessagesRead])?;
    let not_found = || AppError::not_found("send attempt");
    let id = Uuid::parse_str(&send_attempt_id).map_err(|_| not_found())?;
    let (attempt, message) =
        send_attempt::Entity::find_by_id_in_workspace(principal.workspace_id, id)
            .find_also_related(message::Entity)
            .one(&state.db)
            .await?
            .and_then(|(attempt, message)| Some((attempt, message?)))
            .ok_or_else(not_found)?;
    Ok(Json(SendAttemptStatusResponse {
        send_attempt_id: attempt.id,
        status: attempt_status(attempt.state),
        remote_jid: attempt
            .wa_id
            .as_ref()
            .map(|wa_id| format!("{wa_id}@s.whatsapp.net")),
        message_id: attempt.wamid,
        delivery_status: delivery_status(message.status),
        error_code: attempt.error_code,
        error_message: attempt.error_message,
        created_at: attempt.created_at,
        updated_at: attempt.updated_at,
    }))
}
