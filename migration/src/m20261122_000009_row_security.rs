//! Row-level security on Postgres: every tenant table shows and accepts only the rows of the
//! workspace named by the `parley.tenant` setting (or every row when it is `system`; none when it is
//! unset or empty), so a query that forgets its workspace filter still cannot cross tenants.
//! `FORCE` makes the policies bind the tables' owner too; superusers and `BYPASSRLS` roles ignore
//! them regardless, so for those the pool switches to `parley_app`, a role created here. A no-op on
//! SQLite, which has no row security.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every table with a `workspace_id` column (nullable only in `webhook_events`).
const TENANT_TABLES: [&str; 14] = [
    "api_keys",
    "auto_replies",
    "auto_reply_settings",
    "contacts",
    "conversations",
    "members",
    "message_templates",
    "messages",
    "send_attempts",
    "senders",
    "webhook_deliveries",
    "webhook_endpoints",
    "webhook_events",
    "workspace_events",
];

const POLICY: &str = "tenant_isolation";

/// The role a superuser or `BYPASSRLS` connection switches to; it must match `db::APP_ROLE`.
const APP_ROLE: &str = "parley_app";

/// Whether `column` belongs to the current tenant. The settings are read in sub-selects so that
/// Postgres evaluates them once per statement, not once per row.
fn visible(column: &str) -> String {
    format!(
        "(SELECT current_setting('parley.tenant', true)) = 'system' \
         OR {column} = (SELECT nullif(nullif(current_setting('parley.tenant', true), 'system'), '')::uuid)"
    )
}

/// Creates the role (roles are cluster-wide and test databases migrate concurrently, so a
/// concurrent creation is not an error) and grants it what the application does with the data.
/// Only a superuser or `BYPASSRLS` migrator needs it: any other role is bound by the policies as is.
fn create_app_role() -> String {
    format!(
        "DO $$ BEGIN
          IF EXISTS (SELECT FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolbypassrls)) THEN
            BEGIN
              CREATE ROLE {APP_ROLE} NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END;
            IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
              EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
            END IF;
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO {APP_ROLE}', current_schema());
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {APP_ROLE}', current_schema());
            EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO {APP_ROLE}', current_schema());
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}', current_schema());
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {APP_ROLE}', current_schema());
          END IF;
        END $$"
    )
}

fn secure(table: &str, column: &str) -> String {
    let check = visible(column);
    format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
         CREATE POLICY {POLICY} ON {table} FOR ALL USING ({check}) WITH CHECK ({check});"
    )
}

fn unsecure(table: &str) -> String {
    format!(
        "DROP POLICY IF EXISTS {POLICY} ON {table};
         ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;
         ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"
    )
}

fn all_tables() -> impl Iterator<Item = (&'static str, &'static str)> {
    std::iter::once(("workspaces", "id")).chain(TENANT_TABLES.map(|table| (table, "workspace_id")))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (table, column) in all_tables() {
            db.execute_unprepared(&secure(table, column)).await?;
        }
        db.execute_unprepared(&create_app_role()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        // The role and its grants stay: pools switch to it whenever it exists, and without the
        // policies it simply sees every row, as before this migration.
        let db = manager.get_connection();
        for (table, _) in all_tables() {
            db.execute_unprepared(&unsecure(table)).await?;
        }
        Ok(())
    }
}
