//! What the send path needs beyond the first model: per-sender pacing and the daily send counts
//! that enforce each sender's cap across processes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One statement per column: SQLite's ALTER TABLE adds one column at a time.
        let columns = [
            boolean(Senders::PacingEnabled).default(false).to_owned(),
            integer(Senders::PacingMinSecs).default(120).to_owned(),
            integer(Senders::PacingMaxSecs).default(300).to_owned(),
            // The earliest time the next paced send of this sender may go out.
            timestamp_with_time_zone_null(Senders::NextSendAt).to_owned(),
        ];
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Senders::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        // Whether the send created its contact: an idempotent replay answers as the original did.
        manager
            .alter_table(
                Table::alter()
                    .table(SendAttempts::Table)
                    .add_column(boolean(SendAttempts::ContactCreated).default(false))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SenderDailyCounts::Table)
                    .if_not_exists()
                    .col(uuid(SenderDailyCounts::SenderId))
                    // The UTC day, as YYYY-MM-DD.
                    .col(string_len(SenderDailyCounts::Day, 10))
                    .col(integer(SenderDailyCounts::Count).default(0))
                    .primary_key(
                        Index::create()
                            .col(SenderDailyCounts::SenderId)
                            .col(SenderDailyCounts::Day),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SenderDailyCounts::Table, SenderDailyCounts::SenderId)
                            .to(Senders::Table, Senders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(SenderDailyCounts::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SendAttempts::Table)
                    .drop_column(SendAttempts::ContactCreated)
                    .to_owned(),
            )
            .await?;
        for column in [
            Senders::PacingEnabled,
            Senders::PacingMinSecs,
            Senders::PacingMaxSecs,
            Senders::NextSendAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Senders::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Senders {
    Table,
    Id,
    PacingEnabled,
    PacingMinSecs,
    PacingMaxSecs,
    NextSendAt,
}

#[derive(DeriveIden)]
enum SendAttempts {
    Table,
    ContactCreated,
}

#[derive(DeriveIden)]
enum SenderDailyCounts {
    Table,
    SenderId,
    Day,
    Count,
}
