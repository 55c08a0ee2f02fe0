//! Indexes for the CRM read side: the inbox filtered by status or by sender, in last-activity
//! order, as keyset pages (`(last_message_at, id) < cursor`) that never scan past one page.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn index(name: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement
        .name(name)
        .table(Alias::new("conversations"))
        .if_not_exists();
    for column in columns {
        statement.col(Alias::new(*column));
    }
    statement.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                "idx_conversations_workspace_status_last_message",
                &["workspace_id", "status", "last_message_at", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_conversations_sender_last_message",
                &["sender_id", "last_message_at", "id"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "idx_conversations_workspace_status_last_message",
            "idx_conversations_sender_last_message",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Alias::new("conversations"))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
