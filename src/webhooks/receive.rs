//! An inbound message from a customer: find or create the contact (named from the delivery's
//! profile) and its open conversation, store the message once per wamid, and move the
//! conversation's unread count and 24-hour service window.

use chrono::Utc;
use entity::{
    contact, conversation, message,
    message::{MessageDirection, MessageStatus},
    new_id, sender,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use super::{apply::Applied, inbound::parse_inbound};
use crate::{
    auto_reply::{self, Inbound},
    contacts::find_or_create_contact,
    conversations::find_or_create_conversation,
    domain::Phone,
    error::AppError,
    events::{Event, UnitOfWork},
    services::Services,
    whatsapp::webhook::{ChangeValue, Message},
};

/// Longest profile name kept.
const MAX_PROFILE_NAME: usize = 200;

/// An inbound message the sender's bot may answer once the message is committed.
pub struct Reply {
    sender: sender::Model,
    message_id: uuid::Uuid,
    wamid: String,
    message_type: entity::message::MessageType,
    conversation_id: uuid::Uuid,
    contact: contact::Model,
    name: Option<String>,
}

impl Reply {
    /// Queues the bot's answer if its settings say so (failures are logged: see `auto_reply`).
    pub async fn send(self, services: &Services) {
        let inbound = Inbound {
            message_id: self.message_id,
            wamid: &self.wamid,
            message_type: self.message_type,
            conversation_id: self.conversation_id,
            contact: &self.contact,
            name: self.name.as_deref(),
        };
        auto_reply::reply_to_inbound(services, &self.sender, inbound, Utc::now()).await;
    }
}

/// Stores `message`, one inbound message of `value` (a change's value), as part of `uow`, adding
/// its event there and gathering the bot's possible answer in `applied`; `Ok(Some(note))` when
/// skipped.
pub async fn receive_message(
    uow: &mut UnitOfWork<'_>,
    sender: &sender::Model,
    value: &ChangeValue,
    message: &Message,
    applied: &mut Applied,
) -> Result<Option<String>, AppError> {
    let inbound = match parse_inbound(message) {
        Ok(inbound) => inbound,
        Err(reason) => return Ok(Some(format!("inbound message not stored: {reason}"))),
    };
    let Ok(phone) = Phone::parse(&inbound.from) else {
        return Ok(Some(format!(
            "inbound message from an invalid number {:?}",
            inbound.from
        )));
    };
    let profile_name = value
        .contacts
        .iter()
        .find(|contact| contact.wa_id.as_deref() == Some(inbound.from.as_str()))
        .and_then(|contact| contact.profile.name.as_deref())
        .map(|name| name.chars().take(MAX_PROFILE_NAME).collect::<String>());

    let now = Utc::now();
    // A savepoint: a duplicate undoes what finding its contact and conversation wrote, and nothing
    // else of the outer transaction.
    uow.savepoint().await?;
    let (contact, _) = find_or_create_contact(
        uow,
        sender.workspace_id,
        phone.digits(),
        profile_name.clone(),
        now,
    )
    .await?;
    let conversation =
        find_or_create_conversation(uow, sender.workspace_id, sender.id, contact.id, now).await?;
    let reply_to = match &inbound.context_wamid {
        Some(wamid) => message::Entity::find()
            .filter(message::Column::SenderId.eq(sender.id))
            .filter(message::Column::Wamid.eq(wamid.as_str()))
            .filter(message::Column::ConversationId.eq(conversation.id))
            .one(uow.txn())
            .await?
            .map(|message| message.id),
        None => None,
    };
    let id = new_id();
    // Meta retries deliveries: one row per wamid of this sender.
    let inserted = message::Entity::insert(message::ActiveModel {
        id: Set(id),
        workspace_id: Set(sender.workspace_id),
        conversation_id: Set(conversation.id),
        contact_id: Set(contact.id),
        sender_id: Set(sender.id),
        direction: Set(MessageDirection::Inbound),
        r#type: Set(inbound.message_type),
        body: Set(inbound.body),
        text: Set(inbound.text),
        status: Set(MessageStatus::Delivered),
        wamid: Set(Some(inbound.wamid.clone())),
        sent_at: Set(Some(inbound.timestamp)),
        delivered_at: Set(Some(now)),
        read_at: Set(None),
        failed_at: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        reply_to_message_id: Set(reply_to),
        context_wamid: Set(inbound.context_wamid),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(OnConflict::new().do_nothing().to_owned())
    .exec_without_returning(uow.txn())
    .await?;
    if inserted == 0 {
        uow.rollback_savepoint().await?;
        return Ok(None);
    }

    let window_from = conversation
        .last_inbound_at
        .map_or(inbound.timestamp, |last| {
            std::cmp::max(last, inbound.timestamp)
        });
    // The unread count moves in place, so that a concurrent markConversationRead is not undone
    // by the value read above.
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::UnreadCount,
            Expr::col(conversation::Column::UnreadCount).add(1),
        )
        .col_expr(
            conversation::Column::LastInboundAt,
            Expr::value(window_from),
        )
        .col_expr(conversation::Column::LastMessageAt, Expr::value(now))
        .col_expr(conversation::Column::LastMessageId, Expr::value(id))
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
        .filter(conversation::Column::Id.eq(conversation.id))
        .exec(uow.txn())
        .await?;
    let mut known: contact::ActiveModel = contact.clone().into();
    known.last_message_at = Set(Some(now));
    if contact.wa_id.is_none() {
        known.wa_id = Set(Some(inbound.from.clone()));
    }
    if contact.name.is_none() && profile_name.is_some() {
        known.name = Set(profile_name.clone());
    }
    known.updated_at = Set(now);
    known.update(uow.txn()).await?;
    let event = Event::MessageReceived {
        workspace_id: sender.workspace_id,
        message_id: id,
        conversation_id: conversation.id,
    };
    uow.add(event);
    uow.release_savepoint().await?;
    let name = contact.name.clone().or(profile_name);
    applied.replies.push(Reply {
        sender: sender.clone(),
        message_id: id,
        wamid: inbound.wamid,
        message_type: inbound.message_type,
        conversation_id: conversation.id,
        contact,
        name,
    });
    Ok(None)
}
