//! The workspace event log behind subscriptions: every durable event gets the next number of its
//! workspace's sequence, taken in the transaction that makes the change, so that sequence order is
//! commit order and a subscriber that missed some (a reconnect, another process's notification
//! arriving late) reads them back from here.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The last sequence number given out in the workspace.
        manager
            .alter_table(
                Table::alter()
                    .table(Workspaces::Table)
                    .add_column(big_integer(Workspaces::EventSequence).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WorkspaceEvents::Table)
                    .if_not_exists()
                    .col(uuid(WorkspaceEvents::WorkspaceId))
                    .col(big_integer(WorkspaceEvents::Sequence))
                    // The event as JSON (ids and states; subscribers read the rows they name).
                    .col(json_binary(WorkspaceEvents::Payload))
                    .col(timestamp_with_time_zone(WorkspaceEvents::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(WorkspaceEvents::WorkspaceId)
                            .col(WorkspaceEvents::Sequence),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WorkspaceEvents::Table, WorkspaceEvents::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Pruning by age.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_workspace_events_created_at")
                    .table(WorkspaceEvents::Table)
                    .col(WorkspaceEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(WorkspaceEvents::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Workspaces::Table)
                    .drop_column(Workspaces::EventSequence)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
    EventSequence,
}

#[derive(DeriveIden)]
enum WorkspaceEvents {
    Table,
    WorkspaceId,
    Sequence,
    Payload,
    CreatedAt,
}
