//! Fixed-window request counters for the rate limiter, shared by every process on the database.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimitWindows::Table)
                    .if_not_exists()
                    // No foreign key: a subject is an API key or a member, so it has no one parent.
                    .col(uuid(RateLimitWindows::SubjectId))
                    // Unix seconds at the start of the minute.
                    .col(big_integer(RateLimitWindows::WindowStart))
                    .col(integer(RateLimitWindows::Count))
                    // The upsert's conflict target: one counter per subject and minute.
                    .primary_key(
                        Index::create()
                            .col(RateLimitWindows::SubjectId)
                            .col(RateLimitWindows::WindowStart),
                    )
                    .to_owned(),
            )
            .await?;
        // Pruning deletes by age across all subjects, which the primary key cannot serve.
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limit_windows_window_start")
                    .table(RateLimitWindows::Table)
                    .col(RateLimitWindows::WindowStart)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(RateLimitWindows::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum RateLimitWindows {
    Table,
    SubjectId,
    WindowStart,
    Count,
}
