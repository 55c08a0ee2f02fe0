//! The data model's constraints hold in the database itself, on both backends: every uniqueness
//! rule later features rely on is tried and must be refused.

use chrono::Utc;
use entity::{
    api_key, contact, conversation, member, message, new_id, send_attempt, sender, server_setting,
    webhook_event, workspace,
};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, TestDb};

async fn a_workspace(db: &DatabaseConnection) -> workspace::Model {
    workspace::ActiveModel {
        id: Set(new_id()),
        name: Set("Acme".into()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap()
}

async fn a_member(
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

async fn a_sender(
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
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
}

async fn a_contact(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    phone: &str,
) -> Result<contact::Model, DbErr> {
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
    .insert(db)
    .await
}

async fn a_conversation(
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

async fn a_message(
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

async fn a_send_attempt(
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
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
}

async fn an_api_key(
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

async fn a_webhook_event(db: &DatabaseConnection, hash: &str) -> Result<(), DbErr> {
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

#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, DbErr>, rule: &str) {
    assert!(result.is_err(), "{rule}: the database accepted {result:?}");
}

#[tokio::test]
async fn unique_constraints_are_enforced_by_the_database() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let acme = a_workspace(db).await;
    let globex = a_workspace(db).await;

    let owner = a_member(db, acme.id, "ada@example.com").await.unwrap();
    refused(
        a_member(db, globex.id, "ada@example.com").await,
        "member email is unique across workspaces",
    );

    let sender = a_sender(db, acme.id, "15550001", "pn-1").await.unwrap();
    refused(
        a_sender(db, acme.id, "15550001", "pn-2").await,
        "sender number is unique per workspace",
    );
    a_sender(db, globex.id, "15550001", "pn-3")
        .await
        .expect("the same number may exist in another workspace");
    refused(
        a_sender(db, globex.id, "15550002", "pn-1").await,
        "phone_number_id is unique",
    );

    let contact = a_contact(db, acme.id, "447700900123").await.unwrap();
    refused(
        a_contact(db, acme.id, "447700900123").await,
        "contact phone is unique per workspace",
    );
    a_contact(db, globex.id, "447700900123")
        .await
        .expect("the same phone may be a contact of another workspace");

    let open = conversation::ConversationStatus::Open;
    let closed = conversation::ConversationStatus::Closed;
    let conversation = a_conversation(db, &contact, &sender, open).await.unwrap();
    refused(
        a_conversation(db, &contact, &sender, open).await,
        "one open conversation per sender and contact",
    );
    a_conversation(db, &contact, &sender, closed)
        .await
        .expect("closed conversations may pile up");

    let first = a_message(db, &conversation, Some("wamid.1")).await.unwrap();
    refused(
        a_message(db, &conversation, Some("wamid.1")).await,
        "wamid is unique per sender",
    );
    let unsent = a_message(db, &conversation, None).await.unwrap();
    a_message(db, &conversation, None)
        .await
        .expect("messages without a wamid do not collide");

    a_send_attempt(db, &first, Some("key-1")).await.unwrap();
    refused(
        a_send_attempt(db, &unsent, Some("key-1")).await,
        "idempotency key is unique per workspace",
    );
    refused(
        a_send_attempt(db, &first, None).await,
        "one send attempt per message",
    );
    a_send_attempt(db, &unsent, None)
        .await
        .expect("attempts without a key do not collide");

    an_api_key(db, &owner, &"a".repeat(64)).await.unwrap();
    refused(
        an_api_key(db, &owner, &"a".repeat(64)).await,
        "API key hash is unique",
    );

    a_webhook_event(db, &"b".repeat(64)).await.unwrap();
    refused(
        a_webhook_event(db, &"b".repeat(64)).await,
        "a webhook delivery is stored once",
    );
}

#[tokio::test]
async fn foreign_keys_and_enum_checks_are_enforced() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    refused(
        a_member(db, Uuid::now_v7(), "nobody@example.com").await,
        "a member needs an existing workspace",
    );
    let acme = a_workspace(db).await;
    a_member(db, acme.id, "ada@example.com").await.unwrap();
    refused(
        db.execute_unprepared("UPDATE members SET role = 'ROOT'")
            .await,
        "role must be a known role",
    );
}

#[tokio::test]
async fn deleting_a_workspace_removes_its_data() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let acme = a_workspace(db).await;
    let sender = a_sender(db, acme.id, "15550001", "pn-1").await.unwrap();
    let contact = a_contact(db, acme.id, "447700900123").await.unwrap();
    let open = conversation::ConversationStatus::Open;
    let conversation = a_conversation(db, &contact, &sender, open).await.unwrap();
    a_message(db, &conversation, Some("wamid.1")).await.unwrap();

    workspace::Entity::delete_by_id(acme.id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(message::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(contact::Entity::find().count(db).await.unwrap(), 0);
}

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_are_idempotent() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    assert!(
        Migrator::get_applied_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
    parley::db::migrate(&db).await.unwrap();
    parley::db::migrate(&db).await.unwrap();
    assert_eq!(
        Migrator::get_applied_migrations(&db).await.unwrap().len(),
        Migrator::migrations().len()
    );
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );

    // A server started twice on the same database keeps its generated secrets.
    let first = TestApp::spawn_on(test_db, |_| {}).await;
    let jwt_secret = stored_jwt_secret(&first).await;
    let test_db = first.stop().await;
    let second = TestApp::spawn_on(test_db, |_| {}).await;
    assert_eq!(stored_jwt_secret(&second).await, jwt_secret);
    assert_eq!(
        Migrator::get_applied_migrations(&second.db)
            .await
            .unwrap()
            .len(),
        Migrator::migrations().len()
    );
}

async fn stored_jwt_secret(app: &TestApp) -> String {
    server_setting::Entity::find_by_id("jwt_secret".to_owned())
        .one(&app.db)
        .await
        .unwrap()
        .expect("a generated JWT secret is kept in the database")
        .value
}
