//! Row-level security, the second wall between workspaces: inside `db::begin_tenant(A)` a query
//! that deliberately leaves out its workspace filter still sees and writes only A's rows.
//!
//! That holds on Postgres only. SQLite has no row security: there these tests check what does hold
//! (the migration is applied and adds nothing, `begin_tenant` opens a working transaction that sees
//! every row) and the explicit workspace filters remain the only guard.

use entity::{contact, conversation::ConversationStatus, message, new_id, workspace};
use migration::{Migrator, MigratorTrait};
use parley::db::{self, begin_tenant};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Statement,
    TransactionTrait,
};

use crate::{
    fixtures::{a_contact, a_conversation, a_message, a_sender, a_workspace, new_contact},
    helpers::TestApp,
};

/// Two workspaces, each with a contact, a conversation and a message.
async fn two_workspaces(db: &DatabaseConnection) -> (workspace::Model, workspace::Model) {
    let (a, b) = (a_workspace(db).await, a_workspace(db).await);
    for (n, ws) in [&a, &b].into_iter().enumerate() {
        let sender = a_sender(db, ws.id, &format!("1555000000{n}"), &format!("pn-{n}"))
            .await
            .unwrap();
        let contact = a_contact(db, ws.id, "447700900123").await.unwrap();
        let conversation = a_conversation(db, &contact, &sender, ConversationStatus::Open)
            .await
            .unwrap();
        a_message(db, &conversation, None).await.unwrap();
    }
    (a, b)
}

#[tokio::test]
async fn a_query_without_its_workspace_filter_sees_only_the_tenants_rows() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let (a, b) = two_workspaces(db).await;
    let postgres = app.test_db.is_postgres();

    // No workspace filter anywhere: the policies are the filter.
    let txn = begin_tenant(db, a.id).await.unwrap();
    let contacts = contact::Entity::find().all(&txn).await.unwrap();
    let messages = message::Entity::find().all(&txn).await.unwrap();
    let workspaces = workspace::Entity::find().all(&txn).await.unwrap();
    txn.commit().await.unwrap();
    if postgres {
        assert!(contacts.len() == 1 && contacts[0].workspace_id == a.id);
        assert!(messages.len() == 1 && messages[0].workspace_id == a.id);
        assert!(workspaces.len() == 1 && workspaces[0].id == a.id);
    } else {
        // SQLite: nothing but the filters guards the tenant.
        assert_eq!(
            (contacts.len(), messages.len(), workspaces.len()),
            (2, 2, 2)
        );
        return;
    }

    // The pool's own default is every row, for work that spans workspaces.
    assert_eq!(contact::Entity::find().all(db).await.unwrap().len(), 2);

    // Writing a row of B from A's transaction is refused…
    let txn = begin_tenant(db, a.id).await.unwrap();
    let refused = new_contact(b.id, "447700900999")
        .insert(&txn)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("row-level security"),
        "{refused}"
    );
    txn.rollback().await.unwrap();
    // …an update without a filter touches A's rows only…
    let txn = begin_tenant(db, a.id).await.unwrap();
    let renamed = txn
        .execute_unprepared("UPDATE contacts SET name = 'renamed'")
        .await
        .unwrap();
    assert_eq!(renamed.rows_affected(), 1);
    // …and moving one of A's rows to B is refused.
    let moved = txn
        .execute_unprepared(&format!("UPDATE contacts SET workspace_id = '{}'", b.id))
        .await
        .unwrap_err();
    assert!(moved.to_string().contains("row-level security"), "{moved}");
    txn.rollback().await.unwrap();
    let b_contact = contact::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .find(|contact| contact.workspace_id == b.id)
        .unwrap();
    assert_eq!(b_contact.name, None);

    // A transaction that names no tenant sees nothing at all.
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared("SELECT set_config('parley.tenant', '', true)")
        .await
        .unwrap();
    assert!(contact::Entity::find().all(&txn).await.unwrap().is_empty());
    assert!(
        workspace::Entity::find()
            .all(&txn)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn every_tenant_table_is_forced_under_a_policy_for_a_role_that_cannot_bypass_it() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let applied = Migrator::get_applied_migrations_read_only(db)
        .await
        .unwrap();
    assert!(
        applied
            .iter()
            .any(|migration| migration.name().ends_with("row_security"))
    );
    if !app.test_db.is_postgres() {
        // SQLite: the migration is a no-op and the tenant helper still opens a transaction.
        let txn = begin_tenant(db, new_id()).await.unwrap();
        txn.commit().await.unwrap();
        return;
    }

    // The tests connect as a superuser: the pool must have switched to the confined role.
    let role = one_row(
        db,
        "SELECT current_user::text AS name, rolsuper AS superuser, rolbypassrls AS bypass \
         FROM pg_roles WHERE rolname = current_user",
    )
    .await;
    assert_eq!(role.try_get::<String>("", "name").unwrap(), db::APP_ROLE);
    assert!(!role.try_get::<bool>("", "superuser").unwrap());
    assert!(!role.try_get::<bool>("", "bypass").unwrap());

    // Found from the catalog, so that a new tenant table without a policy fails here.
    let unguarded = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text AS name FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() \
             WHERE c.relkind = 'r' \
               AND (c.relname = 'workspaces' OR EXISTS (SELECT FROM pg_attribute a \
                    WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped)) \
               AND NOT (c.relrowsecurity AND c.relforcerowsecurity \
                    AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid))",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect::<Vec<_>>();
    assert!(
        unguarded.is_empty(),
        "tables without row security: {unguarded:?}"
    );
}

async fn one_row(db: &DatabaseConnection, sql: &str) -> sea_orm::QueryResult {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap()
}
