//! `/api/v1/messages`: the Send API (shape A), the Messages API (shape B) and status polling.
//!
//! Both shapes accept the same message fields — nested objects (`"image": {"url", "caption"}`,
//! `"text": "…"` or `{"body": "…"}`) and the flat form (`media_url`, `filename`, `text` as the
//! caption) — and differ in how a sender is chosen (`from` vs `channel_id`) and in the answer.
//!
//! The nested media and location objects are the content's own input types
//! ([`MediaInput`], [`LocationInput`]); the REST-only spellings (`text` as a string or
//! `{"body"}`, a template's `language`, a reaction's plain string id, the flat media fields) are
//! the small types below, turned into the content input by [`SendBody::content`].

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use entity::{
    WorkspaceScoped, message, message::MessageStatus, send_attempt, send_attempt::SendAttemptState,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    auth::{Principal, Scope},
    domain::content::{ContentInput, LocationInput, MediaInput, ReactionInput, TemplateInput},
    error::{AppError, ErrorCode},
    events,
    sending::{self, SendRequest, SenderChoice, Sent},
    services::Services,
};

/// `"text": "…"` or `"text": {"body": "…"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum TextField {
    Plain(String),
    Object { body: String },
}

/// `"language": {"code": "en_US"}` or `"language": "en_US"`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LanguageField {
    Code(String),
    Object { code: String },
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TemplateField {
    pub name: String,
    pub language: LanguageField,
    #[schema(value_type = Option<Vec<Object>>)]
    pub components: Option<Value>,
}

impl From<TemplateField> for TemplateInput {
    fn from(template: TemplateField) -> Self {
        let (LanguageField::Code(language_code)
        | LanguageField::Object {
            code: language_code,
        }) = template.language;
        Self {
            name: template.name,
            language_code,
            components: template.components,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReactionField {
    /// Parley's id of the message reacted to (of the same conversation).
    #[serde(alias = "messageId")]
    pub message_id: String,
    /// One emoji; empty removes the reaction.
    pub emoji: String,
}

impl From<ReactionField> for ReactionInput {
    fn from(reaction: ReactionField) -> Self {
        Self {
            message_id: reaction.message_id.into(),
            emoji: reaction.emoji,
        }
    }
}

/// A message to send, in either shape's spelling.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"to": "+917999709798", "type": "text", "text": "Your invoice is ready."}))]
pub struct SendBody {
    /// The recipient, in international format.
    pub to: String,
    /// text, image, video, audio, document, sticker, location, contacts, template,
    /// interactive or reaction.
    #[serde(rename = "type")]
    pub message_type: String,
    /// Shape A: the workspace number to send from (owners and admins only).
    pub from: Option<String>,
    /// Shape B: the id of the sender to send from (owners and admins only).
    pub channel_id: Option<String>,
    /// The text, or a media message's caption in the flat form.
    pub text: Option<TextField>,
    pub image: Option<MediaInput>,
    pub video: Option<MediaInput>,
    pub audio: Option<MediaInput>,
    pub document: Option<MediaInput>,
    pub sticker: Option<MediaInput>,
    /// Flat form: the media's public HTTPS URL.
    pub media_url: Option<String>,
    /// Flat form: a document's file name.
    pub filename: Option<String>,
    pub caption: Option<String>,
    pub location: Option<LocationInput>,
    pub template: Option<TemplateField>,
    /// Contact cards, in Meta's shape.
    #[schema(value_type = Option<Vec<Object>>)]
    pub contacts: Option<Value>,
    /// Buttons or a list, in Meta's shape.
    #[schema(value_type = Option<Object>)]
    pub interactive: Option<Value>,
    pub reaction: Option<ReactionField>,
    /// Parley's id of a message of the same conversation to reply to.
    #[serde(alias = "replyTo", alias = "replyToMessageId")]
    pub reply_to: Option<String>,
    /// Names the contact when this send creates it.
    #[serde(alias = "contactName")]
    pub contact_name: Option<String>,
}

impl SendBody {
    /// The message content and, apart, `reply_to` and `contact_name`.
    pub fn content(self) -> (ContentInput, Option<String>, Option<String>) {
        let SendBody {
            message_type,
            text,
            image,
            video,
            audio,
            document,
            sticker,
            media_url,
            filename,
            caption,
            location,
            template,
            contacts,
            interactive,
            reaction,
            reply_to,
            contact_name,
            ..
        } = self;
        let nested = image.or(video).or(audio).or(document).or(sticker);
        let media = match (nested, media_url) {
            (Some(media), _) => Some(MediaInput {
                caption: media.caption.or(caption),
                file_name: media.file_name.or(filename),
                ..media
            }),
            (None, Some(url)) => Some(MediaInput {
                url,
                caption,
                file_name: filename,
                mime_type: None,
            }),
            (None, None) => None,
        };
        let content = ContentInput {
            message_type: Some(message_type),
            text: text.map(|text| match text {
                TextField::Plain(body) | TextField::Object { body } => body,
            }),
            media,
            location,
            contacts,
            template: template.map(TemplateInput::from),
            interactive,
            reaction: reaction.map(ReactionInput::from),
        };
        (content, reply_to, contact_name)
    }
}

/// Parses the body ourselves so that a malformed one is a contract `invalid_request`, not
/// axum's plain-text rejection; the raw JSON is kept for the idempotency hash.
fn parse_body(body: &Bytes) -> Result<(Value, SendBody), AppError> {
    let invalid = |error: serde_json::Error| {
        AppError::client(
            ErrorCode::InvalidRequest,
            format!("invalid request body: {error}"),
        )
    };
    let raw: Value = serde_json::from_slice(body).map_err(invalid)?;
    let parsed = serde_json::from_value(raw.clone()).map_err(invalid)?;
    Ok((raw, parsed))
}

fn idempotency_header(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    headers
        .get("idempotency-key")
        .map(|value| {
            value.to_str().map(str::to_owned).map_err(|_| {
                AppError::client(ErrorCode::InvalidRequest, "Idempotency-Key must be ASCII")
            })
        })
        .transpose()
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

fn remote_jid(attempt: &send_attempt::Model) -> Option<String> {
    attempt
        .wa_id
        .as_ref()
        .map(|wa_id| format!("{wa_id}@s.whatsapp.net"))
}

/// The error a failed attempt answers with.
fn failure(attempt: &send_attempt::Model) -> AppError {
    AppError::client(
        ErrorCode::of_failed_attempt(attempt.error_code.as_deref()),
        attempt
            .error_message
            .clone()
            .unwrap_or_else(|| "WhatsApp refused the message".into()),
    )
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct WaitParam {
    /// Answer once WhatsApp accepted or refused the message (30 s at most).
    #[serde(default)]
    pub wait: bool,
}

/// Shape A's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendResponseA {
    pub accepted: bool,
    pub send_attempt_id: Uuid,
    /// The wamid, once WhatsApp accepted the message.
    pub message_id: Option<String>,
    /// `<wa_id>@s.whatsapp.net`, once WhatsApp accepted the message.
    pub remote_jid: Option<String>,
    pub from: String,
    pub to: String,
    pub normalized_phone: String,
    /// `queued`, `sending`, `accepted` or `failed`.
    pub status: &'static str,
}

impl SendResponseA {
    fn new(sent: &Sent, attempt: &send_attempt::Model) -> Self {
        Self {
            accepted: true,
            send_attempt_id: attempt.id,
            message_id: attempt.wamid.clone(),
            remote_jid: remote_jid(attempt),
            from: format!("+{}", sent.sender.phone_number),
            to: format!("+{}", sent.contact.phone),
            normalized_phone: sent.contact.phone.clone(),
            status: attempt_status(attempt.state),
        }
    }
}

/// Send a message (Send API). `202` once queued; with `?wait=true`, `200` once WhatsApp accepted
/// it (or its error), `202` if still queued after 30 s.
#[utoipa::path(
    post,
    path = "/api/v1/messages/send",
    params(WaitParam, ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body return the first result; another body is idempotency_conflict")),
    request_body = SendBody,
    responses(
        (status = 200, body = SendResponseA, description = "accepted by WhatsApp (?wait=true)"),
        (status = 202, body = SendResponseA, description = "queued"),
        (status = 400, body = super::ErrorBody, description = "invalid_request, invalid_phone_number, invalid_media_url, template_malformed, whatsapp_not_configured"),
        (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody, description = "insufficient_scope, sender_selection_forbidden, sender_not_allowed"),
        (status = 409, body = super::ErrorBody, description = "idempotency_conflict, whatsapp_not_connected, customer_service_window_closed"),
        (status = 429, body = super::ErrorBody, description = "rate_limited"),
    ),
    tag = "messages"
)]
pub async fn send_a(
    State(state): State<Services>,
    principal: Principal,
    Query(wait): Query<WaitParam>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let (raw, body) = parse_body(&body)?;
    let sender = match body.from.clone() {
        Some(from) => SenderChoice::Number(from),
        None => SenderChoice::Own,
    };
    let sent = send(&state, &principal, "A", raw, headers, body, sender).await?;
    if !wait.wait {
        return Ok((
            StatusCode::ACCEPTED,
            Json(SendResponseA::new(&sent, &sent.attempt)),
        )
            .into_response());
    }
    let attempt = settled(&state, &sent).await?;
    let status = match attempt.state {
        SendAttemptState::Accepted => StatusCode::OK,
        SendAttemptState::Failed => return Err(failure(&attempt)),
        _ => StatusCode::ACCEPTED,
    };
    Ok((status, Json(SendResponseA::new(&sent, &attempt))).into_response())
}

/// Shape B's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SendResponseB {
    /// Parley's id of the message.
    pub message_id: Uuid,
    /// The wamid, once WhatsApp accepted the message.
    pub whatsapp_message_id: Option<String>,
    pub conversation_id: Uuid,
    pub contact_id: Uuid,
    pub contact_created: bool,
    pub send_attempt_id: Uuid,
    /// `queued`, `sending`, `accepted` or `failed`.
    pub status: &'static str,
}

/// Send a message (Messages API): finds or creates the contact and conversation. `201` once
/// WhatsApp accepted it, `202` (same fields, no `whatsapp_message_id`) if still queued after 30 s.
#[utoipa::path(
    post,
    path = "/api/v1/messages",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body return the first result")),
    request_body = SendBody,
    responses(
        (status = 201, body = SendResponseB, description = "accepted by WhatsApp"),
        (status = 202, body = SendResponseB, description = "still queued after 30 s"),
        (status = 400, body = super::ErrorBody, description = "invalid_request (also: reply_to not of this conversation), invalid_phone_number, invalid_media_url, template_malformed, whatsapp_not_configured"),
        (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody, description = "insufficient_scope, sender_selection_forbidden, sender_not_allowed"),
        (status = 409, body = super::ErrorBody, description = "idempotency_conflict, whatsapp_not_connected, customer_service_window_closed"),
        (status = 429, body = super::ErrorBody, description = "rate_limited"),
        (status = 502, body = super::ErrorBody, description = "meta_error"),
    ),
    tag = "messages"
)]
pub async fn send_b(
    State(state): State<Services>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let (raw, body) = parse_body(&body)?;
    let sender = match body.channel_id.clone() {
        Some(id) => SenderChoice::Id(id),
        None => SenderChoice::Own,
    };
    let sent = send(&state, &principal, "B", raw, headers, body, sender).await?;
    let attempt = settled(&state, &sent).await?;
    let status = match attempt.state {
        SendAttemptState::Accepted => StatusCode::CREATED,
        SendAttemptState::Failed => return Err(failure(&attempt)),
        _ => StatusCode::ACCEPTED,
    };
    let response = SendResponseB {
        message_id: sent.message.id,
        whatsapp_message_id: attempt.wamid.clone(),
        conversation_id: sent.conversation.id,
        contact_id: sent.contact.id,
        contact_created: sent.contact_created,
        send_attempt_id: attempt.id,
        status: attempt_status(attempt.state),
    };
    Ok((status, Json(response)).into_response())
}

async fn send(
    state: &Services,
    principal: &Principal,
    shape: &str,
    raw: Value,
    headers: HeaderMap,
    body: SendBody,
    sender: SenderChoice,
) -> Result<Sent, AppError> {
    let to = body.to.clone();
    let (content, reply_to, contact_name) = body.content();
    let request = SendRequest {
        to,
        sender,
        content,
        reply_to,
        contact_name,
        idempotency_key: idempotency_header(&headers)?,
        canonical: json!({"shape": shape, "body": raw}),
    };
    sending::send(state, principal, request).await
}

async fn settled(state: &Services, sent: &Sent) -> Result<send_attempt::Model, AppError> {
    let timeout = std::time::Duration::from_secs(state.config.send_wait_secs);
    events::wait_until_settled(&state.db, &state.events, sent.attempt.id, timeout).await
}

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

/// A send attempt's status (scope `messages:send` or `messages:read`).
#[utoipa::path(
    get,
    path = "/api/v1/messages/{send_attempt_id}",
    params(("send_attempt_id" = String, Path, description = "The sendAttemptId a send returned")),
    responses(
        (status = 200, body = SendAttemptStatusResponse),
        (status = 404, body = super::ErrorBody, description = "not_found"),
        super::KeyRefusals,
    ),
    tag = "messages"
)]
pub async fn get_send_attempt(
    State(state): State<Services>,
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
        remote_jid: remote_jid(&attempt),
        message_id: attempt.wamid,
        delivery_status: delivery_status(message.status),
        error_code: attempt.error_code,
        error_message: attempt.error_message,
        created_at: attempt.created_at,
        updated_at: attempt.updated_at,
    }))
}
