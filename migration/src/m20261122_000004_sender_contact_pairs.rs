//! Meta's pair rate: when each sender may next message each recipient, shared by every process
//! that dispatches from the database. One row per (sender, contact) pair ever messaged, so the
//! table grows like conversations do and needs no pruning.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SenderContactPairs::Table)
                    .if_not_exists()
                    .col(uuid(SenderContactPairs::SenderId))
                    .col(uuid(SenderContactPairs::ContactId))
                    // The earliest time the next message of this pair may go to WhatsApp.
                    .col(timestamp_with_time_zone(SenderContactPairs::NextSendAt))
                    // The upsert's conflict target: one row per pair.
                    .primary_key(
                        Index::create()
                            .col(SenderContactPairs::SenderId)
                            .col(SenderContactPairs::ContactId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SenderContactPairs::Table, SenderContactPairs::SenderId)
                            .to(Senders::Table, Senders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SenderContactPairs::Table, SenderContactPairs::ContactId)
                            .to(Contacts::Table, Contacts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Deleting a contact cascades here, which the primary key (sender first) cannot serve.
        manager
            .create_index(
                Index::create()
                    .name("idx_sender_contact_pairs_contact_id")
                    .table(SenderContactPairs::Table)
                    .col(SenderContactPairs::ContactId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(SenderContactPairs::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum SenderContactPairs {
    Table,
    SenderId,
    ContactId,
    NextSendAt,
}

#[derive(DeriveIden)]
enum Senders {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    Id,
}
