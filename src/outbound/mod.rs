//! Outbound webhooks: the workspace's own endpoints hear about its events.
//!
//! Deliveries are durable. When a change is committed that an endpoint subscribed to, one
//! `webhook_deliveries` row per subscribed, enabled endpoint is written in the same transaction
//! ([`enqueue`]): a rollback takes them back, a commit can never lose them. Workers in every
//! `parley serve` process ([`worker`]) claim due rows under a lease, POST them signed, and retry
//! with exponential backoff for more than a day. Each event has one id, the same across retries,
//! redeliveries and endpoints, so receivers can drop duplicates (delivery is at least once).
//!
//! Where events come from: the numbered events of the event bus (a message received, a status
//! applied, a send attempt settled; `EventBus::record` calls [`enqueue_event`]), and the creation
//! of contacts and conversations (`sending::find_or_create_*`).

pub mod address;
pub mod endpoints;
pub mod worker;

use std::future::Future;

use async_graphql::Enum;
use chrono::{DateTime, SecondsFormat, Utc};
use entity::{
    WorkspaceScoped, contact, conversation, message, new_id, send_attempt,
    webhook_delivery::{self, WebhookDeliveryState},
    webhook_endpoint,
};
use sea_orm::{
    ActiveEnum,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::events::Event;

/// What an endpoint can subscribe to. Payloads spell them `message.received`, ….
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[graphql(name = "WebhookEventType")]
pub enum EventType {
    /// An inbound message was stored.
    MessageReceived,
    /// A message's delivery status moved (sent, delivered, read, failed).
    MessageStatusUpdated,
    /// A send attempt was settled: accepted by WhatsApp or failed.
    SendAttemptUpdated,
    /// A conversation was opened (by a send or an inbound message).
    ConversationCreated,
    /// A contact was created (by a send, an inbound message or `upsertContact`).
    ContactCreated,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        EventType::MessageReceived,
        EventType::MessageStatusUpdated,
        EventType::SendAttemptUpdated,
        EventType::ConversationCreated,
        EventType::ContactCreated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MessageReceived => "message.received",
            EventType::MessageStatusUpdated => "message.status_updated",
            EventType::SendAttemptUpdated => "send_attempt.updated",
            EventType::ConversationCreated => "conversation.created",
            EventType::ContactCreated => "contact.created",
        }
    }

    /// The type's bit in an endpoint's `event_mask`.
    pub fn bit(self) -> i64 {
        1 << (self as u32)
    }

    pub fn mask_of(types: &[EventType]) -> i64 {
        types.iter().fold(0, |mask, event| mask | event.bit())
    }

    pub fn in_mask(mask: i64) -> Vec<EventType> {
        Self::ALL
            .into_iter()
            .filter(|event| mask & event.bit() != 0)
            .collect()
    }

    pub fn parse(text: &str) -> Option<EventType> {
        Self::ALL.into_iter().find(|event| event.as_str() == text)
    }
}

/// Writes one delivery per enabled endpoint of the workspace subscribed to `event_type`, in
/// `txn`. `data` builds the payload's `data` and is called only when some endpoint wants the
/// event, so that a workspace without endpoints pays one indexed SELECT and nothing else.
pub async fn enqueue<C, F, Fut>(
    txn: &C,
    workspace_id: Uuid,
    event_type: EventType,
    occurred_at: DateTime<Utc>,
    data: F,
) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Value, DbErr>>,
{
    let endpoints: Vec<Uuid> = webhook_endpoint::Entity::find_in_workspace(workspace_id)
        .select_only()
        .column(webhook_endpoint::Column::Id)
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .filter(
            Expr::col(webhook_endpoint::Column::EventMask)
                .bit_and(event_type.bit())
                .ne(0),
        )
        .into_tuple()
        .all(txn)
        .await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let event_id = new_id();
    let body = envelope(
        event_id,
        event_type,
        occurred_at,
        workspace_id,
        data().await?,
    );
    let now = Utc::now();
    let rows = endpoints
        .into_iter()
        .map(|endpoint_id| webhook_delivery::ActiveModel {
            id: Set(new_id()),
            workspace_id: Set(workspace_id),
            endpoint_id: Set(endpoint_id),
            event_id: Set(event_id),
            event_type: Set(event_type.as_str().to_owned()),
            body: Set(body.clone()),
            state: Set(WebhookDeliveryState::Pending),
            attempts: Set(0),
            next_attempt_at: Set(now),
            lease_owner: Set(None),
            lease_expires_at: Set(None),
            last_attempt_at: Set(None),
            last_response_code: Set(None),
            last_error: Set(None),
            last_response_excerpt: Set(None),
            delivered_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
    webhook_delivery::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The JSON body of an event: `{id, type, createdAt, workspaceId, data}`.
fn envelope(
    event_id: Uuid,
    event_type: EventType,
    occurred_at: DateTime<Utc>,
    workspace_id: Uuid,
    data: Value,
) -> String {
    json!({
        "id": event_id,
        "type": event_type.as_str(),
        "createdAt": occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "workspaceId": workspace_id,
        "data": data,
    })
    .to_string()
}

/// Whether the workspace has an enabled endpoint at all: most have none, and then recording an
/// event costs nothing more than this one look.
pub async fn has_endpoints<C: ConnectionTrait>(txn: &C, workspace_id: Uuid) -> Result<bool, DbErr> {
    let first: Option<Uuid> = webhook_endpoint::Entity::find_in_workspace(workspace_id)
        .select_only()
        .column(webhook_endpoint::Column::Id)
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .into_tuple()
        .one(txn)
        .await?;
    Ok(first.is_some())
}

/// Enqueues a numbered bus event for the endpoints that want it; called by `EventBus::record`
/// inside the event's transaction.
pub async fn enqueue_event<C: ConnectionTrait>(
    txn: &C,
    event: &Event,
    occurred_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    match *event {
        Event::MessageReceived {
            workspace_id,
            message_id,
            ..
        } => {
            enqueue(
                txn,
                workspace_id,
                EventType::MessageReceived,
                occurred_at,
                || async move {
                    let (message, contact) = message::Entity::find_by_id(message_id)
                        .find_also_related(contact::Entity)
                        .one(txn)
                        .await?
                        .ok_or_else(|| DbErr::RecordNotFound("the received message".into()))?;
                    Ok(json!({
                        "message": message_json(&message),
                        "contact": contact.as_ref().map(contact_json),
                    }))
                },
            )
            .await
        }
        Event::MessageStatusChanged {
            workspace_id,
            message_id,
            status,
            previous_status,
            ..
        } => {
            let event_type = EventType::MessageStatusUpdated;
            enqueue(txn, workspace_id, event_type, occurred_at, || async move {
                let message = message::Entity::find_by_id(message_id)
                    .one(txn)
                    .await?
                    .ok_or_else(|| DbErr::RecordNotFound("the updated message".into()))?;
                Ok(json!({
                    "message": message_json(&message),
                    "status": status.to_value(),
                    "previousStatus": previous_status.to_value(),
                }))
            })
            .await
        }
        Event::SendAttemptUpdated {
            workspace_id,
            send_attempt_id,
            ..
        } => {
            let event_type = EventType::SendAttemptUpdated;
            enqueue(txn, workspace_id, event_type, occurred_at, || async move {
                let attempt = send_attempt::Entity::find_by_id(send_attempt_id)
                    .one(txn)
                    .await?
                    .ok_or_else(|| DbErr::RecordNotFound("the updated send attempt".into()))?;
                Ok(json!({ "sendAttempt": send_attempt_json(&attempt) }))
            })
            .await
        }
    }
}

/// Enqueues `contact.created`.
pub async fn contact_created<C: ConnectionTrait>(
    txn: &C,
    contact: &contact::Model,
) -> Result<(), DbErr> {
    let data = json!({ "contact": contact_json(contact) });
    let event_type = EventType::ContactCreated;
    enqueue(
        txn,
        contact.workspace_id,
        event_type,
        contact.created_at,
        || async { Ok(data) },
    )
    .await
}

/// Enqueues `conversation.created`.
pub async fn conversation_created<C: ConnectionTrait>(
    txn: &C,
    conversation: &conversation::Model,
) -> Result<(), DbErr> {
    let data = json!({ "conversation": {
        "id": conversation.id,
        "contactId": conversation.contact_id,
        "senderId": conversation.sender_id,
        "status": conversation.status.to_value(),
        "createdAt": conversation.created_at,
    }});
    let (workspace_id, at) = (conversation.workspace_id, conversation.created_at);
    let event_type = EventType::ConversationCreated;
    enqueue(txn, workspace_id, event_type, at, || async { Ok(data) }).await
}

fn message_json(message: &message::Model) -> Value {
    json!({
        "id": message.id,
        "conversationId": message.conversation_id,
        "contactId": message.contact_id,
        "senderId": message.sender_id,
        "direction": message.direction.to_value(),
        "type": message.r#type.to_value(),
        "text": message.text,
        "body": message.body,
        "status": message.status.to_value(),
        "wamid": message.wamid,
        "replyToMessageId": message.reply_to_message_id,
        "sentAt": message.sent_at,
        "deliveredAt": message.delivered_at,
        "readAt": message.read_at,
        "failedAt": message.failed_at,
        "errorCode": message.error_code,
        "createdAt": message.created_at,
    })
}

fn contact_json(contact: &contact::Model) -> Value {
    json!({
        "id": contact.id,
        "phone": format!("+{}", contact.phone),
        "waId": contact.wa_id,
        "name": contact.name,
        "createdAt": contact.created_at,
    })
}

fn send_attempt_json(attempt: &send_attempt::Model) -> Value {
    json!({
        "id": attempt.id,
        "messageId": attempt.message_id,
        "senderId": attempt.sender_id,
        "status": attempt.state.to_value(),
        "wamid": attempt.wamid,
        "errorCode": attempt.error_code,
        "errorMessage": attempt.error_message,
        "attempts": attempt.attempts,
        "createdAt": attempt.created_at,
        "updatedAt": attempt.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_through_masks_and_names() {
        let mask = EventType::mask_of(&[EventType::ContactCreated, EventType::MessageReceived]);
        assert_eq!(
            EventType::in_mask(mask),
            [EventType::MessageReceived, EventType::ContactCreated]
        );
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.as_str()), Some(event));
            assert_eq!(EventType::in_mask(event.bit()), [event]);
        }
        assert_eq!(EventType::parse("message.deleted"), None);
    }
}
