//! Synthetic CRM data at scale (`parley seed`), for measuring the read side on a loaded database:
//! contacts, one conversation each on one sender, and messages spread over them — a tenth of
//! them (at most 20,000) in one long conversation, so that a conversation's history has deep pages.
//! Rows are written in multi-row INSERTs, a transaction per batch, through the same entities (and
//! so the same column encodings) as the application.

use chrono::{DateTime, Duration, Utc};
use entity::{
    contact, conversation,
    conversation::ConversationStatus,
    message::{self, MessageDirection, MessageStatus, MessageType},
    new_id,
};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Statement,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

/// Rows per INSERT: under SQLite's and Postgres's bound-parameter limits for 22 columns.
const ROWS_PER_INSERT: usize = 500;
/// Rows per transaction.
const ROWS_PER_TRANSACTION: usize = 20_000;
/// Messages of the one long conversation, at most.
const LONG_CONVERSATION: u64 = 20_000;

/// What was seeded.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Seeded {
    pub contacts: u64,
    pub messages: u64,
    /// The conversation holding the long history.
    pub long_conversation_id: Uuid,
}

/// Seeds `contacts` contacts with a conversation each on `sender_id`, and `messages` messages,
/// into `workspace_id`. The data is spread over the past year, oldest first.
pub async fn seed(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    sender_id: Uuid,
    contacts: u64,
    messages: u64,
) -> Result<Seeded, DbErr> {
    let contacts = contacts.max(1);
    let start = Utc::now() - Duration::days(365);
    // Every row gets its own millisecond-or-more step, so times are distinct and ordered.
    let step = Duration::milliseconds((365 * 86_400_000 / (contacts + messages).max(1)) as i64)
        .max(Duration::milliseconds(1));

    let mut contact_ids = Vec::with_capacity(contacts as usize);
    let mut conversation_ids = Vec::with_capacity(contacts as usize);
    let mut batch_contacts = Vec::new();
    let mut batch_conversations = Vec::new();
    for i in 0..contacts {
        let at = start + step * i as i32;
        let contact_id = new_id();
        let conversation_id = new_id();
        contact_ids.push(contact_id);
        conversation_ids.push(conversation_id);
        batch_contacts.push(contact::ActiveModel {
            id: Set(contact_id),
            workspace_id: Set(workspace_id),
            phone: Set(format!("4470{i:08}")),
            wa_id: Set(None),
            name: Set(Some(format!("Contact {i}"))),
            tags: Set(if i % 10 == 0 {
                json!(["vip"])
            } else {
                json!([])
            }),
            attributes: Set(json!({})),
            last_message_at: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        });
        batch_conversations.push(conversation::ActiveModel {
            id: Set(conversation_id),
            workspace_id: Set(workspace_id),
            sender_id: Set(sender_id),
            contact_id: Set(contact_id),
            status: Set(if i % 5 == 0 {
                ConversationStatus::Closed
            } else {
                ConversationStatus::Open
            }),
            assigned_member_id: Set(None),
            last_inbound_at: Set(None),
            last_outbound_at: Set(None),
            last_message_at: Set(at),
            last_message_id: Set(None),
            unread_count: Set((i % 4) as i32),
            created_at: Set(at),
            updated_at: Set(at),
        });
        if batch_contacts.len() == ROWS_PER_TRANSACTION || i + 1 == contacts {
            let txn = db.begin().await?;
            insert_all::<contact::Entity, _>(&txn, std::mem::take(&mut batch_contacts)).await?;
            insert_all::<conversation::Entity, _>(&txn, std::mem::take(&mut batch_conversations))
                .await?;
            txn.commit().await?;
        }
    }
    let long = LONG_CONVERSATION.min(messages / 10);
    let after_contacts = start + step * contacts as i32;
    let mut batch = Vec::with_capacity(ROWS_PER_TRANSACTION);
    for j in 0..messages {
        let conversation = if j < long || contacts == 1 {
            0
        } else {
            (1 + (j - long) % (contacts - 1)) as usize
        };
        let at: DateTime<Utc> = after_contacts + step * j as i32;
        let inbound = j % 2 == 0;
        batch.push(message::ActiveModel {
            id: Set(new_id()),
            workspace_id: Set(workspace_id),
            conversation_id: Set(conversation_ids[conversation]),
            contact_id: Set(contact_ids[conversation]),
            sender_id: Set(sender_id),
            direction: Set(if inbound {
                MessageDirection::Inbound
            } else {
                MessageDirection::Outbound
            }),
            r#type: Set(MessageType::Text),
            body: Set(json!({"text": format!("message {j}")})),
            text: Set(Some(format!("message {j}"))),
            status: Set(if inbound {
                MessageStatus::Delivered
            } else {
                MessageStatus::Read
            }),
            wamid: Set(Some(format!("wamid.SEED{j}"))),
            sent_at: Set(Some(at)),
            delivered_at: Set(Some(at)),
            read_at: Set((!inbound).then_some(at)),
            failed_at: Set(None),
            error_code: Set(None),
            error_message: Set(None),
            reply_to_message_id: Set(None),
            context_wamid: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        });
        if batch.len() == ROWS_PER_TRANSACTION || j + 1 == messages {
            let txn = db.begin().await?;
            insert_all::<message::Entity, _>(&txn, std::mem::take(&mut batch)).await?;
            txn.commit().await?;
        }
    }

    // Each conversation points at its newest message, as sends and webhooks keep it.
    let backend = db.get_database_backend();
    let placeholder = match backend {
        sea_orm::DbBackend::Postgres => "$1",
        _ => "?",
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE conversations SET
                last_message_id = (SELECT m.id FROM messages m WHERE m.conversation_id = conversations.id
                    ORDER BY m.created_at DESC, m.id DESC LIMIT 1),
                last_message_at = COALESCE((SELECT m.created_at FROM messages m
                    WHERE m.conversation_id = conversations.id
                    ORDER BY m.created_at DESC, m.id DESC LIMIT 1), last_message_at)
             WHERE workspace_id = {placeholder}"
        ),
        [workspace_id.into()],
    ))
    .await?;
    if backend == sea_orm::DbBackend::Postgres {
        // Only the tables' owner may analyze them, not the role the pool may have switched to.
        let txn = db.begin().await?;
        txn.execute_unprepared("SET LOCAL ROLE NONE; ANALYZE contacts, conversations, messages")
            .await?;
        txn.commit().await?;
    } else {
        db.execute_unprepared("ANALYZE").await?;
    }
    Ok(Seeded {
        contacts,
        messages,
        long_conversation_id: conversation_ids[0],
    })
}

async fn insert_all<E, C>(db: &C, rows: Vec<E::ActiveModel>) -> Result<(), DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<E::ActiveModel> = rows.by_ref().take(ROWS_PER_INSERT).collect();
        E::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}
