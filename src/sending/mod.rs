//! The send path, shared by GraphQL `sendMessage` and both REST shapes: validate, resolve the
//! sender, find or create the contact and conversation, and queue the message — the message row,
//! its send attempt and its idempotency record written in one transaction, so that an accepted
//! send is durable. Delivery picks the attempt up from the `send_attempts` table.

mod idempotency;
mod limits;

use chrono::{Duration, Utc};
use entity::{
    WorkspaceScoped, contact, conversation,
    message::{self, MessageDirection, MessageStatus},
    new_id, send_attempt,
    sender::{self, SenderStatus},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, SqlErr,
};
use serde_json::Value;
use uuid::Uuid;

pub use idempotency::{IdempotencyKey, request_hash};

use crate::{
    auth::{Principal, Scope},
    config::Config,
    contacts::find_or_create_contact,
    conversations::find_or_create_conversation,
    domain::{ContentError, ContentErrorKind, ContentInput, MessageContent, Name, Phone},
    error::{AppError, ErrorCode},
    events::{Event, EventBus, UnitOfWork},
    send_queue::{self, NewAttempt},
    services::Services,
};

/// Which of the workspace's senders a send goes from.
#[derive(Debug, Clone)]
pub enum SenderChoice {
    /// The calling member's own sender.
    Own,
    /// The workspace's sender with this number (owners and admins only).
    Number(String),
    /// The workspace's sender with this id (owners and admins only).
    Id(String),
}

/// One send, as any surface hands it in.
#[derive(Debug, Clone)]
pub struct SendRequest {
    pub to: String,
    pub sender: SenderChoice,
    pub content: ContentInput,
    /// Parley's id of a message of the same conversation this one replies to.
    pub reply_to: Option<String>,
    /// Names the contact if this send creates it.
    pub contact_name: Option<String>,
    pub idempotency_key: Option<String>,
    /// The request as the client sent it (tagged with its surface), for the idempotency hash.
    pub canonical: Value,
}

/// A queued send and what it touched.
#[derive(Debug, Clone)]
pub struct Sent {
    pub attempt: send_attempt::Model,
    pub message: message::Model,
    pub contact: contact::Model,
    pub conversation: conversation::Model,
    pub sender: sender::Model,
    pub contact_created: bool,
}

fn content_error(error: ContentError) -> AppError {
    let code = match error.kind {
        ContentErrorKind::InvalidRequest => ErrorCode::InvalidRequest,
        ContentErrorKind::InvalidMediaUrl => ErrorCode::InvalidMediaUrl,
        ContentErrorKind::TemplateMalformed => ErrorCode::TemplateMalformed,
    };
    AppError::client(code, error.message)
}

/// Queues a send, or returns the send an idempotency key already names.
pub async fn send(
    services: &Services,
    principal: &Principal,
    request: SendRequest,
) -> Result<Sent, AppError> {
    let Services {
        db,
        events: bus,
        config,
        ..
    } = services;
    principal.require_scope(Scope::MessagesSend)?;
    let author = Author {
        workspace_id: principal.workspace_id,
        member_id: Some(principal.member_id),
        api_key_id: principal.api_key.as_ref().map(|key| key.id),
    };
    let choice = request.sender.clone();
    send_as(db, bus, config, author, request, |db| async move {
        resolve_sender(db, principal, &choice).await
    })
    .await
}

/// Queues a send of `sender` made by Parley itself (an auto-reply): no member or key is its
/// author, and it goes through the same checks, limits and idempotency as any other send.
pub async fn send_automatic(
    services: &Services,
    sender: &sender::Model,
    request: SendRequest,
) -> Result<Sent, AppError> {
    let Services {
        db,
        events: bus,
        config,
        ..
    } = services;
    let author = Author {
        workspace_id: sender.workspace_id,
        member_id: None,
        api_key_id: None,
    };
    send_as(db, bus, config, author, request, |_| async move {
        Ok(sender.clone())
    })
    .await
}

/// Who queues a send: a member (directly or with one of its keys), or nobody for Parley's own.
#[derive(Debug, Clone, Copy)]
struct Author {
    workspace_id: Uuid,
    member_id: Option<Uuid>,
    api_key_id: Option<Uuid>,
}

async fn send_as<'a, F, Fut>(
    db: &'a DatabaseConnection,
    bus: &EventBus,
    config: &Config,
    author: Author,
    request: SendRequest,
    sender_of: F,
) -> Result<Sent, AppError>
where
    F: FnOnce(&'a DatabaseConnection) -> Fut,
    Fut: std::future::Future<Output = Result<sender::Model, AppError>>,
{
    let phone = Phone::parse(&request.to).map_err(AppError::from)?;
    let content = MessageContent::parse(request.content).map_err(content_error)?;
    let contact_name = request
        .contact_name
        .as_deref()
        .map(|name| Name::parse("contactName", name).map(String::from))
        .transpose()?;
    let reply_to = request
        .reply_to
        .as_deref()
        .map(|id| {
            Uuid::parse_str(id)
                .map_err(|_| AppError::invalid("reply_to must name a message of this conversation"))
        })
        .transpose()?;
    let key = request
        .idempotency_key
        .as_deref()
        .map(IdempotencyKey::parse)
        .transpose()?;
    let hash = request_hash(&request.canonical);
    let retention = Duration::hours(i64::from(config.idempotency_retention_hours));
    if let Some(key) = &key
        && let Some(sent) = replay(db, author.workspace_id, key, &hash, retention).await?
    {
        return Ok(sent);
    }

    let sender = sender_of(db).await?;
    crate::templates::check_send(db, &sender, &content).await?;
    let queued = Queued {
        author,
        sender: &sender,
        phone: &phone,
        content: &content,
        contact_name,
        reply_to,
        key: key.as_ref(),
        hash: &hash,
        daily_limit: sender
            .daily_limit
            .and_then(|limit| u32::try_from(limit).ok())
            .unwrap_or(config.default_daily_limit),
    };
    let sent = match queue(db, bus, queued).await {
        Ok(sent) => sent,
        // A concurrent request with the same key won the race: answer as it did.
        Err(QueueError::KeyTaken) => {
            let key = key.as_ref().expect("only keyed sends collide on the key");
            replay(db, author.workspace_id, key, &hash, retention)
                .await?
                .ok_or_else(|| anyhow::anyhow!("idempotency key vanished after a conflict"))?
        }
        Err(QueueError::App(error)) => return Err(error),
    };
    bus.publish(Event::SendAttemptUpdated {
        workspace_id: sent.attempt.workspace_id,
        send_attempt_id: sent.attempt.id,
        state: sent.attempt.state,
    });
    Ok(sent)
}

/// The send `key` names, if it names one within the retention window and was made with the same
/// request; `idempotency_conflict` for another request. An expired key is released so that it
/// names a new send.
async fn replay(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    key: &IdempotencyKey,
    hash: &str,
    retention: Duration,
) -> Result<Option<Sent>, AppError> {
    let Some(attempt) = send_attempt::Entity::find_in_workspace(workspace_id)
        .filter(send_attempt::Column::IdempotencyKey.eq(key.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if attempt.created_at < Utc::now() - retention {
        send_queue::release_key(db, attempt.id).await?;
        return Ok(None);
    }
    if attempt.request_hash.as_deref() != Some(hash) {
        return Err(AppError::client(
            ErrorCode::IdempotencyConflict,
            "this Idempotency-Key was used with a different request",
        ));
    }
    Ok(Some(load(db, attempt).await?))
}

/// The rows of an existing send.
pub async fn load(db: &DatabaseConnection, attempt: send_attempt::Model) -> Result<Sent, AppError> {
    let missing = || anyhow::anyhow!("send attempt {} lost its rows", attempt.id);
    let message = message::Entity::find_by_id(attempt.message_id)
        .one(db)
        .await?
        .ok_or_else(missing)?;
    let contact = contact::Entity::find_by_id(message.contact_id)
        .one(db)
        .await?
        .ok_or_else(missing)?;
    let conversation = conversation::Entity::find_by_id(message.conversation_id)
        .one(db)
        .await?
        .ok_or_else(missing)?;
    let sender = sender::Entity::find_by_id(attempt.sender_id)
        .one(db)
        .await?
        .ok_or_else(missing)?;
    Ok(Sent {
        contact_created: attempt.contact_created,
        attempt,
        message,
        contact,
        conversation,
        sender,
    })
}

async fn resolve_sender(
    db: &DatabaseConnection,
    principal: &Principal,
    choice: &SenderChoice,
) -> Result<sender::Model, AppError> {
    let senders = sender::Entity::find_in_workspace(principal.workspace_id);
    let not_allowed = || {
        AppError::client(
            ErrorCode::SenderNotAllowed,
            "that sender is not a number of this workspace",
        )
    };
    let sender = match choice {
        SenderChoice::Own => senders
            .filter(sender::Column::OwnerMemberId.eq(principal.member_id))
            .order_by_asc(sender::Column::Id)
            .one(db)
            .await?
            .ok_or_else(|| {
                AppError::client(
                    ErrorCode::WhatsappNotConfigured,
                    "no WhatsApp sender is connected for you: connect one, or have an owner or \
                     admin choose one with from/senderId",
                )
            })?,
        SenderChoice::Number(_) | SenderChoice::Id(_) if !principal.is_admin() => {
            return Err(AppError::client(
                ErrorCode::SenderSelectionForbidden,
                "only owners and admins can choose the sender; leave it out to send from yours",
            ));
        }
        SenderChoice::Number(number) => {
            let phone = Phone::parse(number).map_err(|_| not_allowed())?;
            senders
                .filter(sender::Column::PhoneNumber.eq(phone.digits()))
                .one(db)
                .await?
                .ok_or_else(not_allowed)?
        }
        SenderChoice::Id(id) => {
            let id = Uuid::parse_str(id).map_err(|_| not_allowed())?;
            senders
                .filter(sender::Column::Id.eq(id))
                .one(db)
                .await?
                .ok_or_else(not_allowed)?
        }
    };
    if sender.status == SenderStatus::Disconnected {
        return Err(AppError::client(
            ErrorCode::WhatsappNotConnected,
            sender
                .status_reason
                .clone()
                .unwrap_or_else(|| "the sender is disconnected; reconnect it".into()),
        ));
    }
    Ok(sender)
}

struct Queued<'a> {
    author: Author,
    sender: &'a sender::Model,
    phone: &'a Phone,
    content: &'a MessageContent,
    contact_name: Option<String>,
    reply_to: Option<Uuid>,
    key: Option<&'a IdempotencyKey>,
    hash: &'a str,
    daily_limit: u32,
}

enum QueueError {
    /// Another send holds the idempotency key.
    KeyTaken,
    App(AppError),
}

impl<E: Into<AppError>> From<E> for QueueError {
    fn from(error: E) -> Self {
        Self::App(error.into())
    }
}

/// Writes the send in one transaction (on SQLite it holds the write lock from its start). The
/// daily count is its last statement: its row is one per sender and day, so on Postgres its lock
/// is held only from there to the commit instead of serialising the sender's whole sends.
async fn queue(db: &DatabaseConnection, bus: &EventBus, q: Queued<'_>) -> Result<Sent, QueueError> {
    let now = Utc::now();
    let mut uow = UnitOfWork::begin(db, bus).await?;
    let next_attempt_at = limits::pacing_slot(uow.txn(), q.sender, now).await?;
    let workspace_id = q.author.workspace_id;
    let (contact, contact_created) = find_or_create_contact(
        &mut uow,
        workspace_id,
        q.phone.digits(),
        q.contact_name.clone(),
        now,
    )
    .await?;
    let conversation =
        find_or_create_conversation(&mut uow, workspace_id, q.sender.id, contact.id, now).await?;

    let reaction_target = q.content.reaction_target();
    for (target, what) in [
        (q.reply_to, "reply_to"),
        (reaction_target, "the reaction's message"),
    ] {
        let Some(target) = target else { continue };
        let found = message::Entity::find_by_id(target)
            .filter(message::Column::ConversationId.eq(conversation.id))
            .one(uow.txn())
            .await?;
        if found.is_none() {
            return Err(QueueError::App(AppError::invalid(format!(
                "{what} must name a message of this conversation"
            ))));
        }
    }

    let message = message::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        conversation_id: Set(conversation.id),
        contact_id: Set(contact.id),
        sender_id: Set(q.sender.id),
        direction: Set(MessageDirection::Outbound),
        r#type: Set(q.content.message_type()),
        body: Set(q.content.to_body()),
        text: Set(q.content.preview_text()),
        status: Set(MessageStatus::Pending),
        wamid: Set(None),
        sent_at: Set(None),
        delivered_at: Set(None),
        read_at: Set(None),
        failed_at: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        reply_to_message_id: Set(q.reply_to),
        context_wamid: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(uow.txn())
    .await?;
    let new = NewAttempt {
        workspace_id,
        message_id: message.id,
        sender_id: q.sender.id,
        api_key_id: q.author.api_key_id,
        member_id: q.author.member_id,
        idempotency_key: q.key.map(|key| key.as_str().to_owned()),
        request_hash: Some(q.hash.to_owned()),
        next_attempt_at,
        contact_created,
    };
    let attempt = send_queue::insert(uow.txn(), new, now)
        .await
        .map_err(|error| match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) if q.key.is_some() => QueueError::KeyTaken,
            _ => error.into(),
        })?;

    let mut touched: conversation::ActiveModel = conversation.into();
    touched.last_outbound_at = Set(Some(now));
    touched.last_message_at = Set(now);
    touched.last_message_id = Set(Some(message.id));
    touched.updated_at = Set(now);
    let conversation = touched.update(uow.txn()).await?;
    let mut touched: contact::ActiveModel = contact.into();
    touched.last_message_at = Set(Some(now));
    let contact = touched.update(uow.txn()).await?;
    limits::count_daily_send(uow.txn(), q.sender.id, q.daily_limit, now).await?;
    uow.commit().await?;
    Ok(Sent {
        attempt,
        message,
        contact,
        conversation,
        sender: q.sender.clone(),
        contact_created,
    })
}
