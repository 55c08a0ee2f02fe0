//! What the CRM does to a conversation: mark it read, close or reopen it, assign it to a member.
//! Each change is one UPDATE scoped to the caller's workspace; a conversation of another workspace
//! is `not_found`, exactly like a missing one. Sends and inbound messages open conversations
//! through [`find_or_create_conversation`].

use chrono::Utc;
use entity::{WorkspaceScoped, conversation, conversation::ConversationStatus, member, new_id};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, SqlErr,
    sea_query::{Expr, OnConflict},
};
use uuid::Uuid;

use crate::{
    error::{AppError, ErrorCode},
    events::{Event, UnitOfWork},
};

fn not_found() -> AppError {
    AppError::not_found("conversation")
}

async fn reload(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<conversation::Model, AppError> {
    conversation::Entity::find_by_id_in_workspace(workspace_id, id)
        .one(db)
        .await?
        .ok_or_else(not_found)
}

/// Runs `update` (filtered to the conversation `id` of the workspace) and returns the row after it.
async fn update(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    id: Uuid,
    update: sea_orm::UpdateMany<conversation::Entity>,
) -> Result<conversation::Model, AppError> {
    let result = update
        .col_expr(conversation::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(conversation::Column::Id.eq(id))
        .filter(conversation::Column::WorkspaceId.eq(workspace_id))
        .exec(db)
        .await;
    match result {
        Ok(done) if done.rows_affected == 0 => Err(not_found()),
        Ok(_) => reload(db, workspace_id, id).await,
        Err(error) => match error.sql_err() {
            // Only reopening can collide: with the open conversation of the same sender and
            // contact (at most one is open per pair).
            Some(SqlErr::UniqueConstraintViolation(_)) => Err(AppError::client(
                ErrorCode::InvalidRequest,
                "another conversation between this sender and contact is open; continue that one",
            )),
            _ => Err(error.into()),
        },
    }
}

/// Sets the unread count to zero.
pub async fn mark_read(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<conversation::Model, AppError> {
    let change = conversation::Entity::update_many()
        .col_expr(conversation::Column::UnreadCount, Expr::value(0));
    update(db, workspace_id, id, change).await
}

/// Closes or reopens the conversation. New messages between its sender and contact go to their
/// open conversation, opening a new one when this one is closed.
pub async fn set_status(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    id: Uuid,
    status: ConversationStatus,
) -> Result<conversation::Model, AppError> {
    let change = conversation::Entity::update_many()
        .col_expr(conversation::Column::Status, Expr::value(status));
    update(db, workspace_id, id, change).await
}

/// Assigns the conversation to `member_id` (a member of the workspace), or unassigns it.
pub async fn assign(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    id: Uuid,
    member_id: Option<Uuid>,
) -> Result<conversation::Model, AppError> {
    if let Some(member_id) = member_id {
        member::Entity::find_by_id_in_workspace(workspace_id, member_id)
            .one(db)
            .await?
            .ok_or_else(|| AppError::not_found("member"))?;
    }
    let change = conversation::Entity::update_many().col_expr(
        conversation::Column::AssignedMemberId,
        Expr::value(member_id),
    );
    update(db, workspace_id, id, change).await
}

/// The open conversation of this sender and contact, opened if there is none; the partial unique
/// index on open conversations makes concurrent messages converge on one.
pub async fn find_or_create_conversation(
    uow: &mut UnitOfWork<'_>,
    workspace_id: Uuid,
    sender_id: Uuid,
    contact_id: Uuid,
    now: chrono::DateTime<Utc>,
) -> Result<conversation::Model, DbErr> {
    let open = || {
        conversation::Entity::find_in_workspace(workspace_id)
            .filter(conversation::Column::SenderId.eq(sender_id))
            .filter(conversation::Column::ContactId.eq(contact_id))
            .filter(conversation::Column::Status.eq(ConversationStatus::Open))
    };
    if let Some(conversation) = open().one(uow.txn()).await? {
        return Ok(conversation);
    }
    let opened = conversation::Entity::insert(conversation::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        sender_id: Set(sender_id),
        contact_id: Set(contact_id),
        status: Set(ConversationStatus::Open),
        assigned_member_id: Set(None),
        last_inbound_at: Set(None),
        last_outbound_at: Set(None),
        last_message_at: Set(now),
        last_message_id: Set(None),
        unread_count: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(OnConflict::new().do_nothing().to_owned())
    .exec_without_returning(uow.txn())
    .await?;
    let conversation = open()
        .one(uow.txn())
        .await?
        .ok_or(DbErr::RecordNotFound("conversation just opened".into()))?;
    if opened == 1 {
        uow.add(Event::ConversationCreated {
            conversation: conversation.clone(),
        });
    }
    Ok(conversation)
}
