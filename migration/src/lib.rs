//! Parley's schema, as sea-orm-migration migrations. Constraints that the application relies on
//! (uniqueness, foreign keys, allowed enum values) live here, so that they hold whatever the code does.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_tables;
mod m20261121_000002_create_rate_limit_windows;
mod m20261121_000003_sending;
mod m20261122_000004_sender_contact_pairs;
mod m20261122_000005_workspace_events;
mod m20261122_000006_read_side;
mod m20261122_000007_outbound_webhooks;
mod m20261122_000008_templates_auto_reply;
mod m20261122_000009_row_security;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_tables::Migration),
            Box::new(m20261121_000002_create_rate_limit_windows::Migration),
            Box::new(m20261121_000003_sending::Migration),
            Box::new(m20261122_000004_sender_contact_pairs::Migration),
            Box::new(m20261122_000005_workspace_events::Migration),
            Box::new(m20261122_000006_read_side::Migration),
            Box::new(m20261122_000007_outbound_webhooks::Migration),
            Box::new(m20261122_000008_templates_auto_reply::Migration),
            Box::new(m20261122_000009_row_security::Migration),
        ]
    }
}
