//! The outbox of outbound webhooks: when a unit of work commits, each of its events is written as
//! one `webhook_deliveries` row per enabled endpoint of its workspace subscribed to its kind, in
//! the same transaction — a rollback takes them back, a commit can never lose them. Delivering
//! them is `crate::outbound`'s job; nothing here sends anything.

use chrono::{DateTime, SecondsFormat, Utc};
use entity::{
    WorkspaceScoped, contact, conversation, message, new_id, send_attempt,
    webhook_delivery::{self, WebhookDeliveryState},
    webhook_endpoint,
};
use sea_orm::{
    ActiveEnum, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QuerySelect,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Event, EventKind};

/// The workspace's enabled endpoints, each with the mask of the kinds it subscribed to: one look
/// per workspace and commit, whatever the number of events (most workspaces have none).
pub(super) async fn endpoints<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
) -> Result<Vec<(Uuid, i64)>, DbErr> {
    webhook_endpoint::Entity::find_in_workspace(workspace_id)
        .select_only()
        .column(webhook_endpoint::Column::Id)
        .column(webhook_endpoint::Column::EventMask)
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .into_tuple()
        .all(txn)
        .await
}

/// Writes one delivery per endpoint of `endpoints` (the event's workspace's, from [`endpoints`])
/// subscribed to its kind, in `txn`. A numbered event occurred at `occurred_at`; a created
/// contact or conversation when it was created. The payload's `data` is built only when some
/// endpoint wants the event.
pub(super) async fn enqueue<C: ConnectionTrait>(
    txn: &C,
    endpoints: &[(Uuid, i64)],
    event: &Event,
    occurred_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let workspace_id = event.workspace_id();
    let kind = event.kind();
    let occurred_at = match event {
        Event::ContactCreated { contact } => contact.created_at,
        Event::ConversationCreated { conversation } => conversation.created_at,
        _ => occurred_at,
    };
    let endpoints: Vec<Uuid> = endpoints
        .iter()
        .filter(|(_, mask)| mask & kind.bit() != 0)
        .map(|(id, _)| *id)
        .collect();
    if endpoints.is_empty() {
        return Ok(());
    }
    let event_id = new_id();
    let body = envelope(
        event_id,
        kind,
        occurred_at,
        workspace_id,
        data(txn, event).await?,
    );
    let now = Utc::now();
    let rows = endpoints
        .into_iter()
        .map(|endpoint_id| webhook_delivery::ActiveModel {
            id: Set(new_id()),
            workspace_id: Set(workspace_id),
            endpoint_id: Set(endpoint_id),
            event_id: Set(event_id),
            event_type: Set(kind.as_str().to_owned()),
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
    kind: EventKind,
    occurred_at: DateTime<Utc>,
    workspace_id: Uuid,
    data: Value,
) -> String {
    json!({
        "id": event_id,
        "type": kind.as_str(),
        "createdAt": occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "workspaceId": workspace_id,
        "data": data,
    })
    .to_string()
}

/// The payload's `data`: the rows a numbered event names as they are in `txn`, a created
/// contact or conversation as it was created.
async fn data<C: ConnectionTrait>(txn: &C, event: &Event) -> Result<Value, DbErr> {
    Ok(match event {
        Event::MessageReceived { message_id, .. } => {
            let (message, contact) = message::Entity::find_by_id(*message_id)
                .find_also_related(contact::Entity)
                .one(txn)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound("the received message".into()))?;
            json!({
                "message": message_json(&message),
                "contact": contact.as_ref().map(contact_json),
            })
        }
        Event::MessageStatusChanged {
            message_id,
            status,
            previous_status,
            ..
        } => {
            let message = message::Entity::find_by_id(*message_id)
                .one(txn)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound("the updated message".into()))?;
            json!({
                "message": message_json(&message),
                "status": status.to_value(),
                "previousStatus": previous_status.to_value(),
            })
        }
        Event::SendAttemptUpdated {
            send_attempt_id, ..
        } => {
            let attempt = send_attempt::Entity::find_by_id(*send_attempt_id)
                .one(txn)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound("the updated send attempt".into()))?;
            json!({ "sendAttempt": send_attempt_json(&attempt) })
        }
        Event::ContactCreated { contact } => json!({ "contact": contact_json(contact) }),
        Event::ConversationCreated { conversation } => json!({
            "conversation": conversation_json(conversation)
        }),
    })
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

fn conversation_json(conversation: &conversation::Model) -> Value {
    json!({
        "id": conversation.id,
        "contactId": conversation.contact_id,
        "senderId": conversation.sender_id,
        "status": conversation.status.to_value(),
        "createdAt": conversation.created_at,
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
