//! The data model's constraints hold in the database itself, on both backends: every uniqueness
//! rule later features rely on is tried and must be refused.

use entity::{contact, conversation, message, server_setting, workspace};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, PaginatorTrait};
use uuid::Uuid;

use crate::{
    fixtures::*,
    helpers::{TestApp, TestDb},
};

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
        Migrator::get_applied_migrations_read_only(&db)
            .await
            .unwrap()
            .is_empty()
    );
    parley::db::migrate(&db).await.unwrap();
    parley::db::migrate(&db).await.unwrap();
    assert_eq!(
        Migrator::get_applied_migrations_read_only(&db)
            .await
            .unwrap()
            .len(),
        Migrator::migrations().len()
    );
    assert!(
        Migrator::get_pending_migrations_read_only(&db)
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
        Migrator::get_applied_migrations_read_only(&second.db)
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
