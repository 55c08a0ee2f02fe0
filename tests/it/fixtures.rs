//! Rows inserted straight into the database, for tests that need data no API creates yet.

use chrono::Utc;
use entity::{
    api_key, contact, conversation, member, message, new_id, send_attempt, sender, webhook_event,
    workspace,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, DbErr};
use serde_json::json;
use uuid::Uuid;

pub async fn a_workspace(db: &DatabaseConnection) -> workspace::Model {
    workspace::ActiveModel {
        id: Set(new_id()),
        name: Set("Acme".into()),
        event_sequence: Set(0),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap()
}

pub async fn a_member(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    email: &str,
) -> Result<member::Model, DbErr> {
    member::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        email: Set(email.into()),
        name: Set("Ada".into()),
        password_hash: Set("x".into()),
        role: Set(member::Role::Owner),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
}

pub async fn a_sender(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    phone: &str,
    phone_number_id: &str,
) -> Result<sender::Model, DbErr> {
    sender::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        kind: Set(sender::SenderKind::Sandbox),
        name: Set("Sales".into()),
        phone_number: Set(phone.into()),
        phone_number_id: Set(phone_number_id.into()),
        waba_id: Set(None),
        access_token_encrypted: Set(None),
        owner_member_id: Set(None),
        status: Set(sender::SenderStatus::Connected),
        status_reason: Set(None),
        daily_limit: Set(None),
        messages_per_second: Set(20),
        min_interval_ms: Set(0),
        window_check_enabled: Set(false),
        pacing_enabled: Set(false),
        pacing_min_secs: Set(120),
        pacing_max_secs: Set(300),
        next_send_at: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
}

pub async fn a_contact(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    phone: &str,
) -> Result<contact::Model, DbErr> {
    new_contact(workspace_id, phone).insert(db).await
}

/// A contact not inserted yet.
pub fn new_contact(workspace_id: Uuid, phone: &str) -> contact::ActiveModel {
    contact::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        phone: Set(phone.into()),
        wa_id: Set(None),
        name: Set(None),
        tags: Set(json!([])),
        attributes: Set(json!({})),
        last_message_at: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
}

pub async fn a_conversation(
    db: &DatabaseConnection,
    contact: &contact::Model,
    sender: &sender::Model,
    status: conversation::ConversationStatus,
) -> Result<conversation::Model, DbErr> {
    conversation::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(contact.workspace_id),
        sender_id: Set(sender.id),
        contact_id: Set(contact.id),
        status: Set(status),
        assigned_member_id: Set(None),
        last_inbound_at: Set(None),
        last_outbound_at: Set(None),
        last_message_at: Set(Utc::now()),
        last_message_id: Set(None),
        unread_count: Set(0),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
}

pub async fn a_message(
    db: &DatabaseConnection,
    conversation: &conversation::Model,
    wamid: Option<&str>,
) -> Result<message::Model, DbErr> {
    message::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(conversation.workspace_id),
        conversation_id: Set(conversation.id),
        contact_id: Set(conversation.contact_id),
        sender_id: Set(conversation.sender_id),
        direction: Set(message::MessageDirection::Outbound),
        r#type: Set(message::MessageType::Text),
        body: Set(json!({"text": "hi"})),
        text: Set(Some("hi".into())),
        status: Set(message::MessageStatus::Pending),
        wamid: Set(wamid.map(Into::into)),
        sent_at: Set(None),
        delivered_at: Set(None),
        read_at: Set(None),
        failed_at: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        reply_to_message_id: Set(None),
        context_wamid: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
}

pub async fn a_send_attempt(
    db: &DatabaseConnection,
    message: &message::Model,
    idempotency_key: Option<&str>,
) -> Result<send_attempt::Model, DbErr> {
    send_attempt::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(message.workspace_id),
        message_id: Set(message.id),
        sender_id: Set(message.sender_id),
        api_key_id: Set(None),
        member_id: Set(None),
        state: Set(send_attempt::SendAttemptState::Queued),
        idempotency_key: Set(idempotency_key.map(Into::into)),
        request_hash: Set(Some("0".repeat(64))),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(Utc::now()),
        wamid: Set(None),
        wa_id: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        contact_created: Set(false),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
}

pub async fn an_api_key(
    db: &DatabaseConnection,
    member: &member::Model,
    hash: &str,
) -> Result<api_key::Model, DbErr> {
    api_key::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(member.workspace_id),
        member_id: Set(member.id),
        name: Set("zapier".into()),
        prefix: Set("pk_abcd".into()),
        key_hash: Set(hash.into()),
        scopes: Set(json!(["messages:send"])),
        rate_limit_per_minute: Set(None),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
}

pub async fn a_webhook_event(db: &DatabaseConnection, hash: &str) -> Result<(), DbErr> {
    webhook_event::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(None),
        phone_number_id: Set(None),
        payload_hash: Set(hash.into()),
        payload: Set("{}".into()),
        received_at: Set(Utc::now()),
        processed_at: Set(None),
        process_attempts: Set(0),
        process_error: Set(None),
    }
    .insert(db)
    .await
    .map(drop)
}
