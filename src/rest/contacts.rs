//! `/api/v1/contacts`: contacts and their message history for automations, in keyset pages.
//! A page answers `{"data": […], "pagination": {"next": "<cursor>" | null}}`; pass `next` back as
//! `cursor` for the following page, with the same filters.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};
use chrono::{DateTime, Utc};
use entity::{
    WorkspaceScoped, contact,
    message::{self, MessageDirection, MessageStatus},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    auth::{Principal, Scope},
    contacts::{self, ContactFilter},
    db,
    domain::Phone,
    error::{AppError, ErrorCode},
    pagination::{self, Cursors, List, ListId, PageArgs, lists},
    services::Services,
};

/// A page's continuation.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Pagination {
    /// The cursor of the next page, or null on the last one.
    pub next: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactListParams {
    /// Contacts a page, 1 to 100 (default 50).
    pub limit: Option<i32>,
    /// `pagination.next` of the previous page.
    pub cursor: Option<String>,
    /// Names containing it (any case), or numbers starting with it (`+4477`).
    pub search: Option<String>,
    /// Only contacts carrying this tag.
    pub tag: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageListParams {
    /// Messages a page, 1 to 100 (default 50).
    pub limit: Option<i32>,
    /// `pagination.next` of the previous page.
    pub cursor: Option<String>,
}

/// A contact.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactResponse {
    pub id: Uuid,
    /// E.164, with a leading `+`.
    pub phone: String,
    /// The digits alone.
    pub normalized_phone: String,
    /// WhatsApp's id of the customer, once known.
    pub wa_id: Option<String>,
    pub name: Option<String>,
    pub tags: Vec<String>,
    /// Custom attributes set by the CRM.
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<contact::Model> for ContactResponse {
    fn from(contact: contact::Model) -> Self {
        Self {
            id: contact.id,
            phone: format!("+{}", contact.phone),
            tags: contacts::tags_of(&contact),
            normalized_phone: contact.phone,
            wa_id: contact.wa_id,
            name: contact.name,
            attributes: contact.attributes,
            last_message_at: contact.last_message_at,
            created_at: contact.created_at,
            updated_at: contact.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ContactPage {
    pub data: Vec<ContactResponse>,
    pub pagination: Pagination,
}

/// A message, sent or received.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageResponse {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub contact_id: Uuid,
    pub sender_id: Uuid,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    /// `text`, `image`, … as in the send API, or `unsupported`.
    #[serde(rename = "type")]
    pub message_type: String,
    /// The text, or a media message's caption.
    pub text: Option<String>,
    /// The whole message as sent or received.
    #[schema(value_type = Object)]
    pub body: Value,
    /// `pending`, `sent`, `delivered`, `read` or `failed`.
    pub status: &'static str,
    /// WhatsApp's message id, once it has one.
    pub wamid: Option<String>,
    pub reply_to_message_id: Option<Uuid>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<message::Model> for MessageResponse {
    fn from(message: message::Model) -> Self {
        Self {
            id: message.id,
            conversation_id: message.conversation_id,
            contact_id: message.contact_id,
            sender_id: message.sender_id,
            direction: match message.direction {
                MessageDirection::Inbound => "inbound",
                MessageDirection::Outbound => "outbound",
            },
            message_type: sea_orm::ActiveEnum::to_value(&message.r#type).to_lowercase(),
            text: message.text,
            body: message.body,
            status: match message.status {
                MessageStatus::Pending => "pending",
                MessageStatus::Sent => "sent",
                MessageStatus::Delivered => "delivered",
                MessageStatus::Read => "read",
                MessageStatus::Failed => "failed",
            },
            wamid: message.wamid,
            reply_to_message_id: message.reply_to_message_id,
            sent_at: message.sent_at,
            delivered_at: message.delivered_at,
            read_at: message.read_at,
            failed_at: message.failed_at,
            error_code: message.error_code,
            error_message: message.error_message,
            created_at: message.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MessagePage {
    pub data: Vec<MessageResponse>,
    pub pagination: Pagination,
}

/// A REST page holds at least one row, so that `pagination.next` always moves on.
fn limit(limit: Option<i32>) -> Result<Option<i32>, AppError> {
    match limit {
        Some(limit) if !(1..=pagination::MAX_PAGE as i32).contains(&limit) => {
            Err(AppError::client(
                ErrorCode::InvalidRequest,
                format!("limit must be between 1 and {}", pagination::MAX_PAGE),
            ))
        }
        limit => Ok(limit),
    }
}

/// Query strings are parsed by us so that a bad one is the contract's `invalid_request`.
fn params<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, AppError> {
    query.map(|Query(params)| params).map_err(|rejection| {
        AppError::client(
            ErrorCode::InvalidRequest,
            format!("invalid query string: {}", rejection.body_text()),
        )
    })
}

/// The workspace's contacts, oldest first (scope `contacts:read`).
#[utoipa::path(
    get,
    path = "/api/v1/contacts",
    params(ContactListParams),
    responses(
        (status = 200, body = ContactPage),
        (status = 400, body = super::ErrorBody, description = "invalid_request (a bad limit, search, tag or cursor)"),
        super::KeyRefusals,
    ),
    tag = "contacts"
)]
pub async fn list_contacts(
    State(state): State<Services>,
    principal: Principal,
    query: Result<Query<ContactListParams>, QueryRejection>,
) -> Result<Json<ContactPage>, AppError> {
    principal.require_scope(Scope::ContactsRead)?;
    let params = params(query)?;
    let filter = ContactFilter::parse(params.search.as_deref(), params.tag.as_deref())?;
    let select = filter.apply(
        contact::Entity::find_in_workspace(principal.workspace_id),
        state.db.get_database_backend(),
    );
    let list = lists::contacts(filter.list_name());
    let txn = db::begin_tenant(&state.db, principal.workspace_id).await?;
    let (data, pagination) = page(
        &txn,
        &state,
        &principal,
        list,
        select,
        (params.limit, params.cursor),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(ContactPage { data, pagination }))
}

/// One page of `select` in `list`: `limit` rows after `cursor`, read in `txn`; its rows and where
/// the next page starts.
async fn page<E, R>(
    txn: &impl ConnectionTrait,
    services: &Services,
    principal: &Principal,
    list: List<E>,
    select: Select<E>,
    (limit_asked, cursor): (Option<i32>, Option<String>),
) -> Result<(Vec<R>, Pagination), AppError>
where
    E: EntityTrait,
    R: From<E::Model>,
{
    let cursors = Cursors::new(
        &services.secrets,
        ListId::new(principal.workspace_id, list.name.as_str()),
    );
    let args = PageArgs::forward(limit(limit_asked)?, cursor);
    let page = pagination::page(txn, &cursors, select, &list, args).await?;
    let next = page.next_cursor();
    let rows = page.rows.into_iter().map(|(_, row)| row.into()).collect();
    Ok((rows, Pagination { next }))
}

async fn contact_by_phone(
    db: &impl ConnectionTrait,
    principal: &Principal,
    phone: &str,
) -> Result<contact::Model, AppError> {
    let phone = Phone::parse(phone).map_err(AppError::from)?;
    contacts::find_by_phone(db, principal.workspace_id, &phone)
        .await?
        .ok_or_else(|| AppError::not_found("contact"))
}

/// One contact, by its number (scope `contacts:read`).
#[utoipa::path(
    get,
    path = "/api/v1/contacts/{phone}",
    params(("phone" = String, Path, description = "The number in international format (`+447700900123` or the digits)", example = "+917999709798")),
    responses(
        (status = 200, body = ContactResponse),
        (status = 400, body = super::ErrorBody, description = "invalid_phone_number"),
        (status = 404, body = super::ErrorBody, description = "not_found"),
        super::KeyRefusals,
    ),
    tag = "contacts"
)]
pub async fn get_contact(
    State(state): State<Services>,
    principal: Principal,
    Path(phone): Path<String>,
) -> Result<Json<ContactResponse>, AppError> {
    principal.require_scope(Scope::ContactsRead)?;
    let txn = db::begin_tenant(&state.db, principal.workspace_id).await?;
    let contact = contact_by_phone(&txn, &principal, &phone).await?;
    txn.commit().await?;
    Ok(Json(contact.into()))
}

/// A contact's messages on every sender, the newest first (scope `messages:read`).
#[utoipa::path(
    get,
    path = "/api/v1/contacts/{phone}/messages",
    params(
        ("phone" = String, Path, description = "The number in international format", example = "+917999709798"),
        MessageListParams,
    ),
    responses(
        (status = 200, body = MessagePage),
        (status = 400, body = super::ErrorBody, description = "invalid_phone_number, invalid_request (a bad limit or cursor)"),
        (status = 404, body = super::ErrorBody, description = "not_found"),
        super::KeyRefusals,
    ),
    tag = "contacts"
)]
pub async fn list_contact_messages(
    State(state): State<Services>,
    principal: Principal,
    Path(phone): Path<String>,
    query: Result<Query<MessageListParams>, QueryRejection>,
) -> Result<Json<MessagePage>, AppError> {
    principal.require_scope(Scope::MessagesRead)?;
    let params = params(query)?;
    let txn = db::begin_tenant(&state.db, principal.workspace_id).await?;
    let contact = contact_by_phone(&txn, &principal, &phone).await?;
    let select = message::Entity::find_in_workspace(principal.workspace_id)
        .filter(message::Column::ContactId.eq(contact.id));
    // The newest first: the same index as a conversation's history, walked the other way.
    let list = lists::messages(format!("contact/{}/messages", contact.id)).newest_first();
    let (data, pagination) = page(
        &txn,
        &state,
        &principal,
        list,
        select,
        (params.limit, params.cursor),
    )
    .await?;
    txn.commit().await?;
    Ok(Json(MessagePage { data, pagination }))
}
