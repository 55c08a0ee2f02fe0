//! A message's status, and the rules it moves by. Statuses arrive duplicated and out of order,
//! so they only ever move a message forward: PENDING → SENT → DELIVERED → READ, with FAILED
//! terminal for PENDING and SENT. A late status that cannot move the message still records its
//! time. An outbound message also moves with its send: it gets its wamid when WhatsApp takes it,
//! fails when the send fails, and keeps PENDING (with the error) when its delivery is unknown.
//!
//! Webhooks, the dispatcher and the sandbox all change statuses through here; this module does
//! not touch send attempts (`crate::send_queue` does) and knows nothing of where a status came
//! from.

use chrono::{DateTime, Utc};
use entity::message::{self, MessageStatus};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, UpdateMany,
    sea_query::{Expr, OnConflict},
};
use uuid::Uuid;

use crate::{
    error::{AppError, ErrorCode},
    events::{Event, UnitOfWork},
};

/// A status WhatsApp reported for one of our messages.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    pub status: MessageStatus,
    pub at: DateTime<Utc>,
    /// For FAILED: the contract code and Meta's message.
    pub error: Option<(String, String)>,
}

fn rank(status: MessageStatus) -> u8 {
    match status {
        MessageStatus::Pending => 0,
        MessageStatus::Sent => 1,
        MessageStatus::Delivered => 2,
        MessageStatus::Read => 3,
        MessageStatus::Failed => 4,
    }
}

/// The status after `update`, given the current one.
fn next_status(current: MessageStatus, update: MessageStatus) -> MessageStatus {
    match (current, update) {
        (MessageStatus::Failed, _) => MessageStatus::Failed,
        (MessageStatus::Pending | MessageStatus::Sent, MessageStatus::Failed) => {
            MessageStatus::Failed
        }
        (_, MessageStatus::Failed) => current,
        _ if rank(update) > rank(current) => update,
        _ => current,
    }
}

/// Applies `update` to the message of `sender_id` with `wamid`; `None` when no such message is
/// known (the caller keeps the event). Adds `MessageStatusChanged` when the status moved.
pub async fn apply_status(
    uow: &mut UnitOfWork<'_>,
    sender_id: Uuid,
    wamid: &str,
    update: StatusUpdate,
) -> Result<Option<message::Model>, AppError> {
    // Locked (Postgres) or under the write lock (SQLite), so concurrent statuses of one message
    // apply one after the other.
    let Some(current) = message::Entity::find()
        .filter(message::Column::SenderId.eq(sender_id))
        .filter(message::Column::Wamid.eq(wamid))
        .lock_exclusive()
        .one(uow.txn())
        .await?
    else {
        return Ok(None);
    };
    let (message, changed) = status_applied(current, update, uow);
    if !changed {
        return Ok(Some(message));
    }
    Ok(Some(status_columns(&message).update(uow.txn()).await?))
}

/// Locks the messages of these senders with these wamids, all in one statement and in one order
/// (a transaction applying several statuses then waits for no other in a cycle).
pub async fn lock_messages(
    txn: &DatabaseTransaction,
    senders: Vec<Uuid>,
    wamids: Vec<&str>,
) -> Result<Vec<message::Model>, AppError> {
    Ok(message::Entity::find()
        .filter(message::Column::SenderId.is_in(senders))
        .filter(message::Column::Wamid.is_in(wamids))
        .order_by_asc(message::Column::Id)
        .lock_exclusive()
        .all(txn)
        .await?)
}

/// The columns a status changes, set to `message`'s values.
fn status_columns(message: &message::Model) -> message::ActiveModel {
    message::ActiveModel {
        id: Unchanged(message.id),
        status: Set(message.status),
        sent_at: Set(message.sent_at),
        delivered_at: Set(message.delivered_at),
        read_at: Set(message.read_at),
        failed_at: Set(message.failed_at),
        error_code: Set(message.error_code.clone()),
        error_message: Set(message.error_message.clone()),
        updated_at: Set(message.updated_at),
        ..Default::default()
    }
}

/// `current` with `update` applied, and whether that changed it, without writing it; its event
/// (if the status moved) is added to `events`.
pub fn status_applied(
    current: message::Model,
    update: StatusUpdate,
    events: &mut impl Extend<Event>,
) -> (message::Model, bool) {
    let previous = current.status;
    let status = next_status(previous, update.status);
    let mut message = current;
    let mut changed = status != previous;
    let first = |at: &mut Option<DateTime<Utc>>, changed: &mut bool| {
        if at.is_none() {
            *at = Some(update.at);
            *changed = true;
        }
    };
    match update.status {
        MessageStatus::Sent => first(&mut message.sent_at, &mut changed),
        MessageStatus::Delivered => first(&mut message.delivered_at, &mut changed),
        MessageStatus::Read => first(&mut message.read_at, &mut changed),
        MessageStatus::Failed if status == MessageStatus::Failed && message.failed_at.is_none() => {
            first(&mut message.failed_at, &mut changed);
            if let Some((code, text)) = update.error {
                message.error_code = Some(code);
                message.error_message = Some(text);
            }
        }
        MessageStatus::Failed | MessageStatus::Pending => {}
    }
    message.status = status;
    if !changed {
        return (message, false);
    }
    message.updated_at = Utc::now();
    if status != previous {
        events.extend([Event::MessageStatusChanged {
            workspace_id: message.workspace_id,
            message_id: message.id,
            conversation_id: message.conversation_id,
            status,
            previous_status: previous,
        }]);
    }
    (message, true)
}

/// Writes messages changed in memory (see [`status_applied`]) with one statement: their
/// statuses, times and errors.
pub async fn write_statuses(
    txn: &DatabaseTransaction,
    messages: Vec<message::Model>,
) -> Result<(), AppError> {
    if messages.is_empty() {
        return Ok(());
    }
    let columns = [
        message::Column::Status,
        message::Column::SentAt,
        message::Column::DeliveredAt,
        message::Column::ReadAt,
        message::Column::FailedAt,
        message::Column::ErrorCode,
        message::Column::ErrorMessage,
        message::Column::UpdatedAt,
    ];
    message::Entity::insert_many(messages.into_iter().map(message::ActiveModel::from))
        .on_conflict(
            OnConflict::column(message::Column::Id)
                .update_columns(columns)
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Records that WhatsApp took the message `id` under `wamid`; its status moves with the statuses
/// WhatsApp reports.
pub async fn accepted(
    txn: &impl ConnectionTrait,
    id: Uuid,
    wamid: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    touch(id, now)
        .col_expr(message::Column::Wamid, Expr::value(wamid))
        .exec(txn)
        .await?;
    Ok(())
}

/// Records that the message `id` may or may not have reached WhatsApp: it stays PENDING, so that
/// a status can still move it, with the `delivery_unknown` error until one does.
pub async fn delivery_unknown(
    txn: &impl ConnectionTrait,
    id: Uuid,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    with_error(touch(id, now), ErrorCode::DeliveryUnknown.as_str(), text)
        .exec(txn)
        .await?;
    Ok(())
}

/// Records that WhatsApp has the message `id` after all (its send ended `delivery_unknown`):
/// it gets its wamid, and loses the error.
pub async fn accepted_after_all(
    txn: &impl ConnectionTrait,
    id: Uuid,
    wamid: &str,
) -> Result<(), DbErr> {
    let update = message::Entity::update_many()
        .col_expr(message::Column::Wamid, Expr::value(wamid))
        .filter(message::Column::Id.eq(id));
    with_error(update, None::<&str>, None::<&str>)
        .exec(txn)
        .await?;
    Ok(())
}

/// The message `id` failed to send: FAILED at `now`, with the contract's `code` and `text`.
pub async fn failed(
    txn: &impl ConnectionTrait,
    id: Uuid,
    code: ErrorCode,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let update = touch(id, now)
        .col_expr(message::Column::Status, Expr::value(MessageStatus::Failed))
        .col_expr(message::Column::FailedAt, Expr::value(now));
    with_error(update, code.as_str(), text).exec(txn).await?;
    Ok(())
}

/// An update of the message `id`, changed at `now`.
fn touch(id: Uuid, now: DateTime<Utc>) -> UpdateMany<message::Entity> {
    message::Entity::update_many()
        .col_expr(message::Column::UpdatedAt, Expr::value(now))
        .filter(message::Column::Id.eq(id))
}

/// `update` setting the message's error (or clearing it, given `None`s).
fn with_error<T: Into<sea_orm::Value>>(
    update: UpdateMany<message::Entity>,
    code: T,
    text: T,
) -> UpdateMany<message::Entity> {
    update
        .col_expr(message::Column::ErrorCode, Expr::value(code))
        .col_expr(message::Column::ErrorMessage, Expr::value(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageStatus::*;

    #[test]
    fn statuses_only_move_forward() {
        for (current, update, expected) in [
            (Pending, Sent, Sent),
            (Sent, Sent, Sent),
            (Sent, Delivered, Delivered),
            (Read, Delivered, Read),
            (Pending, Read, Read),
            (Delivered, Sent, Delivered),
            (Pending, Failed, Failed),
            (Sent, Failed, Failed),
            (Delivered, Failed, Delivered),
            (Read, Failed, Read),
            (Failed, Read, Failed),
            (Failed, Delivered, Failed),
        ] {
            assert_eq!(
                next_status(current, update),
                expected,
                "{current:?} + {update:?}"
            );
        }
    }
}

#[cfg(test)]
mod applied_in_memory {
    use chrono::TimeZone;
    use entity::message::{MessageDirection, MessageType};

    use super::*;

    fn sent_message() -> message::Model {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        message::Model {
            id: Uuid::nil(),
            workspace_id: Uuid::nil(),
            conversation_id: Uuid::nil(),
            contact_id: Uuid::nil(),
            sender_id: Uuid::nil(),
            direction: MessageDirection::Outbound,
            r#type: MessageType::Text,
            body: serde_json::json!({}),
            text: None,
            status: MessageStatus::Sent,
            wamid: Some("wamid.A".into()),
            sent_at: Some(at),
            delivered_at: None,
            read_at: None,
            failed_at: None,
            error_code: None,
            error_message: None,
            reply_to_message_id: None,
            context_wamid: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn update(status: MessageStatus, minute: u32) -> StatusUpdate {
        StatusUpdate {
            status,
            at: Utc.with_ymd_and_hms(2026, 11, 22, 9, minute, 0).unwrap(),
            error: None,
        }
    }

    #[test]
    fn a_duplicate_changes_nothing_and_a_late_status_only_records_its_time() {
        let mut events = Vec::new();
        let (message, changed) =
            status_applied(sent_message(), update(MessageStatus::Sent, 5), &mut events);
        assert!(!changed && events.is_empty(), "a duplicate SENT");
        assert_eq!(message.sent_at, sent_message().sent_at);

        let (read, changed) = status_applied(message, update(MessageStatus::Read, 7), &mut events);
        assert!(changed);
        assert_eq!(read.status, MessageStatus::Read);
        assert_eq!(events.len(), 1);

        let (late, changed) =
            status_applied(read, update(MessageStatus::Delivered, 6), &mut events);
        assert!(changed, "the delivery time is new");
        assert_eq!(late.status, MessageStatus::Read);
        assert_eq!(
            late.delivered_at,
            Some(update(MessageStatus::Delivered, 6).at)
        );
        assert_eq!(events.len(), 1, "no event: the status did not move");
    }
}
