//! Message templates synced from Meta (per sender), auto-reply settings (one row per sender) and
//! the log of auto-replies sent (one per inbound message, which also answers "when did the bot
//! last reply in this conversation").

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MessageTemplates::Table)
                    .if_not_exists()
                    .col(uuid(MessageTemplates::Id).primary_key())
                    .col(uuid(MessageTemplates::WorkspaceId))
                    .col(uuid(MessageTemplates::SenderId))
                    .col(string_len_null(MessageTemplates::MetaId, 64))
                    .col(string_len(MessageTemplates::Name, 512))
                    .col(string_len(MessageTemplates::Language, 16))
                    .col(string_len(MessageTemplates::Status, 32))
                    .col(string_len_null(MessageTemplates::Category, 32))
                    .col(string_len_null(MessageTemplates::StatusReason, 512))
                    .col(json_binary(MessageTemplates::Components))
                    .col(timestamp_with_time_zone(MessageTemplates::SyncedAt))
                    .col(timestamp_with_time_zone(MessageTemplates::CreatedAt))
                    .col(timestamp_with_time_zone(MessageTemplates::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MessageTemplates::Table, MessageTemplates::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(MessageTemplates::Table, MessageTemplates::SenderId)
                            .to(Senders::Table, Senders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The sync's upsert target, and the send check's lookup.
        manager
            .create_index(
                Index::create()
                    .name("uq_message_templates_sender_name_language")
                    .table(MessageTemplates::Table)
                    .col(MessageTemplates::SenderId)
                    .col(MessageTemplates::Name)
                    .col(MessageTemplates::Language)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_message_templates_workspace_id")
                    .table(MessageTemplates::Table)
                    .col(MessageTemplates::WorkspaceId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AutoReplySettings::Table)
                    .if_not_exists()
                    .col(uuid(AutoReplySettings::SenderId).primary_key())
                    .col(uuid(AutoReplySettings::WorkspaceId))
                    .col(boolean(AutoReplySettings::Enabled))
                    .col(string_len_null(AutoReplySettings::BotName, 200))
                    .col(string_len(AutoReplySettings::Timezone, 64))
                    .col(string_len_null(AutoReplySettings::Language, 16))
                    .col(text(AutoReplySettings::DefaultMessage))
                    .col(json_binary(AutoReplySettings::ActiveDays))
                    .col(string_len_null(AutoReplySettings::ActiveFrom, 5))
                    .col(string_len_null(AutoReplySettings::ActiveTo, 5))
                    .col(string_len(AutoReplySettings::Mode, 32))
                    .col(boolean(AutoReplySettings::ReplyUnreadOnly))
                    .col(integer_null(AutoReplySettings::ReplyOncePerHours))
                    .col(timestamp_with_time_zone(AutoReplySettings::CreatedAt))
                    .col(timestamp_with_time_zone(AutoReplySettings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AutoReplySettings::Table, AutoReplySettings::SenderId)
                            .to(Senders::Table, Senders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AutoReplySettings::Table, AutoReplySettings::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AutoReplies::Table)
                    .if_not_exists()
                    // One reply per inbound message, whatever retries and duplicates do.
                    .col(uuid(AutoReplies::InboundMessageId).primary_key())
                    .col(uuid(AutoReplies::WorkspaceId))
                    .col(uuid(AutoReplies::SenderId))
                    .col(uuid(AutoReplies::ConversationId))
                    .col(uuid(AutoReplies::MessageId))
                    .col(uuid(AutoReplies::SendAttemptId))
                    .col(timestamp_with_time_zone(AutoReplies::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AutoReplies::Table, AutoReplies::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AutoReplies::Table, AutoReplies::SenderId)
                            .to(Senders::Table, Senders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // "When did the bot last answer in this conversation?"
        manager
            .create_index(
                Index::create()
                    .name("idx_auto_replies_conversation_created_at")
                    .table(AutoReplies::Table)
                    .col(AutoReplies::ConversationId)
                    .col(AutoReplies::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AutoReplies::Table.into_iden(),
            AutoReplySettings::Table.into_iden(),
            MessageTemplates::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum MessageTemplates {
    Table,
    Id,
    WorkspaceId,
    SenderId,
    MetaId,
    Name,
    Language,
    Status,
    Category,
    StatusReason,
    Components,
    SyncedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AutoReplySettings {
    Table,
    SenderId,
    WorkspaceId,
    Enabled,
    BotName,
    Timezone,
    Language,
    DefaultMessage,
    ActiveDays,
    ActiveFrom,
    ActiveTo,
    Mode,
    ReplyUnreadOnly,
    ReplyOncePerHours,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AutoReplies {
    Table,
    InboundMessageId,
    WorkspaceId,
    SenderId,
    ConversationId,
    MessageId,
    SendAttemptId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Senders {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
}
