//! The whole first data model: tenants, identities, senders, contacts, conversations, messages,
//! the send queue, API keys, raw webhook deliveries and server settings.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every tenant table cascades from its workspace, so deleting a workspace removes all its data.
fn workspace_fk(table: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, Alias::new("workspace_id"))
        .to(Workspaces::Table, Workspaces::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn one_of(column: impl IntoIden, values: &[&str]) -> SimpleExpr {
    Expr::col(column).is_in(values.iter().copied())
}

fn index(name: &str, table: impl IntoIden, columns: &[&str]) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement.name(name).table(table).if_not_exists();
    for column in columns {
        statement.col(Alias::new(*column));
    }
    statement.to_owned()
}

fn unique_index(name: &str, table: impl IntoIden, columns: &[&str]) -> IndexCreateStatement {
    let mut statement = index(name, table, columns);
    statement.unique();
    statement
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServerSettings::Table)
                    .if_not_exists()
                    .col(string(ServerSettings::Key).primary_key())
                    .col(text(ServerSettings::Value))
                    .col(timestamp_with_time_zone(ServerSettings::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Workspaces::Table)
                    .if_not_exists()
                    .col(pk_uuid(Workspaces::Id))
                    .col(string(Workspaces::Name))
                    .col(timestamp_with_time_zone(Workspaces::CreatedAt))
                    .col(timestamp_with_time_zone(Workspaces::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Members::Table)
                    .if_not_exists()
                    .col(pk_uuid(Members::Id))
                    .col(uuid(Members::WorkspaceId))
                    // Stored lower-cased; login looks members up by email alone.
                    .col(string_uniq(Members::Email))
                    .col(string(Members::Name))
                    .col(string(Members::PasswordHash))
                    .col(
                        string_len(Members::Role, 16)
                            .check(one_of(Members::Role, &["OWNER", "ADMIN", "MEMBER"])),
                    )
                    .col(timestamp_with_time_zone(Members::CreatedAt))
                    .col(timestamp_with_time_zone(Members::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Members::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_members_workspace_created",
                Members::Table,
                &["workspace_id", "created_at", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Senders::Table)
                    .if_not_exists()
                    .col(pk_uuid(Senders::Id))
                    .col(uuid(Senders::WorkspaceId))
                    .col(
                        string_len(Senders::Kind, 16)
                            .check(one_of(Senders::Kind, &["CLOUD_API", "SANDBOX"])),
                    )
                    .col(string(Senders::Name))
                    // Digits of the E.164 number, without '+'.
                    .col(string_len(Senders::PhoneNumber, 15))
                    // Meta's id of the number; sandbox senders get a generated one.
                    .col(string_uniq(Senders::PhoneNumberId))
                    .col(string_null(Senders::WabaId))
                    // XChaCha20-Poly1305 ciphertext (nonce || sealed token) under PARLEY_SECRET_KEY.
                    .col(blob_null(Senders::AccessTokenEncrypted))
                    .col(uuid_null(Senders::OwnerMemberId))
                    .col(
                        string_len(Senders::Status, 16)
                            .check(one_of(Senders::Status, &["CONNECTED", "DISCONNECTED"])),
                    )
                    .col(text_null(Senders::StatusReason))
                    .col(integer_null(Senders::DailyLimit))
                    .col(integer(Senders::MessagesPerSecond).default(20))
                    .col(integer(Senders::MinIntervalMs).default(0))
                    .col(boolean(Senders::WindowCheckEnabled).default(false))
                    .col(timestamp_with_time_zone(Senders::CreatedAt))
                    .col(timestamp_with_time_zone(Senders::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Senders::Table))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Senders::Table, Senders::OwnerMemberId)
                            .to(Members::Table, Members::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_senders_workspace_phone",
                Senders::Table,
                &["workspace_id", "phone_number"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_senders_workspace_created",
                Senders::Table,
                &["workspace_id", "created_at", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Contacts::Table)
                    .if_not_exists()
                    .col(pk_uuid(Contacts::Id))
                    .col(uuid(Contacts::WorkspaceId))
                    // Normalised digits of the phone number.
                    .col(string_len(Contacts::Phone, 15))
                    .col(string_null(Contacts::WaId))
                    .col(string_null(Contacts::Name))
                    .col(json_binary(Contacts::Tags))
                    .col(json_binary(Contacts::Attributes))
                    .col(timestamp_with_time_zone_null(Contacts::LastMessageAt))
                    .col(timestamp_with_time_zone(Contacts::CreatedAt))
                    .col(timestamp_with_time_zone(Contacts::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Contacts::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_contacts_workspace_phone",
                Contacts::Table,
                &["workspace_id", "phone"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_contacts_workspace_created",
                Contacts::Table,
                &["workspace_id", "created_at", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_contacts_workspace_last_message",
                Contacts::Table,
                &["workspace_id", "last_message_at", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .if_not_exists()
                    .col(pk_uuid(Conversations::Id))
                    .col(uuid(Conversations::WorkspaceId))
                    .col(uuid(Conversations::SenderId))
                    .col(uuid(Conversations::ContactId))
                    .col(
                        string_len(Conversations::Status, 16)
                            .check(one_of(Conversations::Status, &["OPEN", "CLOSED"])),
                    )
                    .col(uuid_null(Conversations::AssignedMemberId))
                    .col(timestamp_with_time_zone_null(Conversations::LastInboundAt))
                    .col(timestamp_with_time_zone_null(Conversations::LastOutboundAt))
                    // Inbox order; set to created_at until the first message.
                    .col(timestamp_with_time_zone(Conversations::LastMessageAt))
                    // No foreign key: messages reference conversations, and the cycle would make
                    // inserts order-dependent. The application keeps it pointing at its own message.
                    .col(uuid_null(Conversations::LastMessageId))
                    .col(integer(Conversations::UnreadCount).default(0))
                    .col(timestamp_with_time_zone(Conversations::CreatedAt))
                    .col(timestamp_with_time_zone(Conversations::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Conversations::Table))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Conversations::Table, Conversations::SenderId)
                            .to(Senders::Table, Senders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Conversations::Table, Conversations::ContactId)
                            .to(Contacts::Table, Contacts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Conversations::Table, Conversations::AssignedMemberId)
                            .to(Members::Table, Members::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // At most one open conversation per (sender, contact): concurrent find-or-create sends
        // converge on it. Partial indexes are spelled the same on SQLite and Postgres.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS uq_conversations_open_sender_contact \
                 ON conversations (sender_id, contact_id) WHERE status = 'OPEN'",
            )
            .await?;
        manager
            .create_index(index(
                "idx_conversations_workspace_last_message",
                Conversations::Table,
                &["workspace_id", "last_message_at", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_conversations_contact",
                Conversations::Table,
                &["contact_id", "last_message_at", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .if_not_exists()
                    .col(pk_uuid(Messages::Id))
                    .col(uuid(Messages::WorkspaceId))
                    .col(uuid(Messages::ConversationId))
                    .col(uuid(Messages::ContactId))
                    .col(uuid(Messages::SenderId))
                    .col(
                        string_len(Messages::Direction, 16)
                            .check(one_of(Messages::Direction, &["INBOUND", "OUTBOUND"])),
                    )
                    .col(string_len(Messages::Type, 16).check(one_of(
                        Messages::Type,
                        &[
                            "TEXT",
                            "IMAGE",
                            "VIDEO",
                            "AUDIO",
                            "DOCUMENT",
                            "STICKER",
                            "LOCATION",
                            "CONTACTS",
                            "TEMPLATE",
                            "INTERACTIVE",
                            "REACTION",
                            "UNSUPPORTED",
                        ],
                    )))
                    // The message in Parley's own JSON form (what was sent or received).
                    .col(json_binary(Messages::Body))
                    // Text or caption, for previews and search.
                    .col(text_null(Messages::Text))
                    .col(string_len(Messages::Status, 16).check(one_of(
                        Messages::Status,
                        &["PENDING", "SENT", "DELIVERED", "READ", "FAILED"],
                    )))
                    .col(string_null(Messages::Wamid))
                    .col(timestamp_with_time_zone_null(Messages::SentAt))
                    .col(timestamp_with_time_zone_null(Messages::DeliveredAt))
                    .col(timestamp_with_time_zone_null(Messages::ReadAt))
                    .col(timestamp_with_time_zone_null(Messages::FailedAt))
                    .col(string_null(Messages::ErrorCode))
                    .col(text_null(Messages::ErrorMessage))
                    .col(uuid_null(Messages::ReplyToMessageId))
                    // wamid a customer replied to, kept even when that message is unknown to us.
                    .col(string_null(Messages::ContextWamid))
                    .col(timestamp_with_time_zone(Messages::CreatedAt))
                    .col(timestamp_with_time_zone(Messages::UpdatedAt))
                    .foreign_key(&mut workspace_fk(Messages::Table))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::ContactId)
                            .to(Contacts::Table, Contacts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::SenderId)
                            .to(Senders::Table, Senders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Messages::Table, Messages::ReplyToMessageId)
                            .to(Messages::Table, Messages::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // NULL wamids (not yet accepted) never collide: both backends treat NULLs as distinct.
        manager
            .create_index(unique_index(
                "uq_messages_sender_wamid",
                Messages::Table,
                &["sender_id", "wamid"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_messages_conversation_created",
                Messages::Table,
                &["conversation_id", "created_at", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_messages_contact_created",
                Messages::Table,
                &["contact_id", "created_at", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_messages_workspace_created",
                Messages::Table,
                &["workspace_id", "created_at", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SendAttempts::Table)
                    .if_not_exists()
                    .col(pk_uuid(SendAttempts::Id))
                    .col(uuid(SendAttempts::WorkspaceId))
                    .col(uuid_uniq(SendAttempts::MessageId))
                    .col(uuid(SendAttempts::SenderId))
                    .col(uuid_null(SendAttempts::ApiKeyId))
                    .col(uuid_null(SendAttempts::MemberId))
                    .col(string_len(SendAttempts::State, 16).check(one_of(
                        SendAttempts::State,
                        &["QUEUED", "SENDING", "ACCEPTED", "FAILED"],
                    )))
                    .col(string_null(SendAttempts::IdempotencyKey))
                    // SHA-256 of the canonical request, to tell a retry from a conflicting reuse.
                    .col(string_len_null(SendAttempts::RequestHash, 64))
                    .col(string_null(SendAttempts::LeaseOwner))
                    .col(timestamp_with_time_zone_null(SendAttempts::LeaseExpiresAt))
                    .col(integer(SendAttempts::Attempts).default(0))
                    .col(timestamp_with_time_zone(SendAttempts::NextAttemptAt))
                    .col(string_null(SendAttempts::Wamid))
                    .col(string_null(SendAttempts::WaId))
                    .col(string_null(SendAttempts::ErrorCode))
                    .col(text_null(SendAttempts::ErrorMessage))
                    .col(timestamp_with_time_zone(SendAttempts::CreatedAt))
                    .col(timestamp_with_time_zone(SendAttempts::UpdatedAt))
                    .foreign_key(&mut workspace_fk(SendAttempts::Table))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SendAttempts::Table, SendAttempts::MessageId)
                            .to(Messages::Table, Messages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SendAttempts::Table, SendAttempts::SenderId)
                            .to(Senders::Table, Senders::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // An idempotency key names one send per workspace; its request hash decides replay vs
        // conflict. NULL keys (no header) never collide.
        manager
            .create_index(unique_index(
                "uq_send_attempts_workspace_idempotency",
                SendAttempts::Table,
                &["workspace_id", "idempotency_key"],
            ))
            .await?;
        // The dispatcher's claim query: due attempts in order.
        manager
            .create_index(index(
                "idx_send_attempts_due",
                SendAttempts::Table,
                &["state", "next_attempt_at"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_send_attempts_workspace_created",
                SendAttempts::Table,
                &["workspace_id", "created_at", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(pk_uuid(ApiKeys::Id))
                    .col(uuid(ApiKeys::WorkspaceId))
                    .col(uuid(ApiKeys::MemberId))
                    .col(string(ApiKeys::Name))
                    // First characters of the secret, shown in listings to recognise a key.
                    .col(string_len(ApiKeys::Prefix, 16))
                    // Hex SHA-256 of the secret; the secret itself is never stored.
                    .col(string_len_uniq(ApiKeys::KeyHash, 64))
                    .col(json_binary(ApiKeys::Scopes))
                    .col(integer_null(ApiKeys::RateLimitPerMinute))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(&mut workspace_fk(ApiKeys::Table))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::MemberId)
                            .to(Members::Table, Members::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_api_keys_workspace_created",
                ApiKeys::Table,
                &["workspace_id", "created_at", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .if_not_exists()
                    .col(pk_uuid(WebhookEvents::Id))
                    // Routed from metadata.phone_number_id; NULL while unknown.
                    .col(uuid_null(WebhookEvents::WorkspaceId))
                    .col(string_null(WebhookEvents::PhoneNumberId))
                    // Hex SHA-256 of the raw body: Meta's retries of one delivery are stored once.
                    .col(string_len_uniq(WebhookEvents::PayloadHash, 64))
                    .col(text(WebhookEvents::Payload))
                    .col(timestamp_with_time_zone(WebhookEvents::ReceivedAt))
                    .col(timestamp_with_time_zone_null(WebhookEvents::ProcessedAt))
                    .col(integer(WebhookEvents::ProcessAttempts).default(0))
                    .col(text_null(WebhookEvents::ProcessError))
                    .foreign_key(&mut workspace_fk(WebhookEvents::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_webhook_events_pending",
                WebhookEvents::Table,
                &["processed_at", "received_at"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_webhook_events_workspace_received",
                WebhookEvents::Table,
                &["workspace_id", "received_at", "id"],
            ))
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookEvents::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            SendAttempts::Table.into_iden(),
            Messages::Table.into_iden(),
            Conversations::Table.into_iden(),
            Contacts::Table.into_iden(),
            Senders::Table.into_iden(),
            Members::Table.into_iden(),
            Workspaces::Table.into_iden(),
            ServerSettings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ServerSettings {
    Table,
    Key,
    Value,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
    WorkspaceId,
    Email,
    Name,
    PasswordHash,
    Role,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Senders {
    Table,
    Id,
    WorkspaceId,
    Kind,
    Name,
    PhoneNumber,
    PhoneNumberId,
    WabaId,
    AccessTokenEncrypted,
    OwnerMemberId,
    Status,
    StatusReason,
    DailyLimit,
    MessagesPerSecond,
    MinIntervalMs,
    WindowCheckEnabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    Id,
    WorkspaceId,
    Phone,
    WaId,
    Name,
    Tags,
    Attributes,
    LastMessageAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    WorkspaceId,
    SenderId,
    ContactId,
    Status,
    AssignedMemberId,
    LastInboundAt,
    LastOutboundAt,
    LastMessageAt,
    LastMessageId,
    UnreadCount,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    WorkspaceId,
    ConversationId,
    ContactId,
    SenderId,
    Direction,
    Type,
    Body,
    Text,
    Status,
    Wamid,
    SentAt,
    DeliveredAt,
    ReadAt,
    FailedAt,
    ErrorCode,
    ErrorMessage,
    ReplyToMessageId,
    ContextWamid,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SendAttempts {
    Table,
    Id,
    WorkspaceId,
    MessageId,
    SenderId,
    ApiKeyId,
    MemberId,
    State,
    IdempotencyKey,
    RequestHash,
    LeaseOwner,
    LeaseExpiresAt,
    Attempts,
    NextAttemptAt,
    Wamid,
    WaId,
    ErrorCode,
    ErrorMessage,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    WorkspaceId,
    MemberId,
    Name,
    Prefix,
    KeyHash,
    Scopes,
    RateLimitPerMinute,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    WorkspaceId,
    PhoneNumberId,
    PayloadHash,
    Payload,
    ReceivedAt,
    ProcessedAt,
    ProcessAttempts,
    ProcessError,
}
