use async_graphql::{Context, Enum, ID, Object, Result, connection::Connection};
use chrono::{DateTime, Duration, Utc};
use entity::{WorkspaceScoped, contact, conversation, member, message, sender};
use sea_orm::{ColumnTrait, DatabaseConnection, PaginatorTrait, QueryFilter, Select};

use crate::{
    auth::Scope,
    error::AppError,
    graphql::{connection, guard::RequireScope, loader},
    pagination::{PageArgs, lists},
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::conversation::ConversationStatus")]
pub enum ConversationStatus {
    Open,
    Closed,
}

/// WhatsApp's customer-service window: free-form messages are allowed for this long after the
/// customer's last message.
const SERVICE_WINDOW: Duration = Duration::hours(24);

/// The thread between one of the workspace's senders and one contact.
pub struct Conversation(pub conversation::Model);

#[Object]
impl Conversation {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn status(&self) -> ConversationStatus {
        self.0.status.into()
    }

    /// Inbound messages not yet marked read.
    async fn unread_count(&self) -> i32 {
        self.0.unread_count
    }

    async fn last_message_at(&self) -> DateTime<Utc> {
        self.0.last_message_at
    }

    /// When the 24-hour service window closes; null when the customer never wrote.
    async fn window_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_inbound_at.map(|at| at + SERVICE_WINDOW)
    }

    /// When the customer last wrote.
    async fn last_inbound_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_inbound_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The customer.
    async fn contact(&self, ctx: &Context<'_>) -> Result<super::Contact> {
        let contact = loader::get::<contact::Entity>(ctx, self.0.workspace_id, self.0.contact_id);
        Ok(super::Contact(contact.await?))
    }

    /// The workspace number the conversation is held on.
    async fn sender(&self, ctx: &Context<'_>) -> Result<super::Sender> {
        let sender = loader::get::<sender::Entity>(ctx, self.0.workspace_id, self.0.sender_id);
        Ok(super::Sender(sender.await?))
    }

    /// The member handling it, if assigned (`assignConversation`).
    async fn assigned_member(&self, ctx: &Context<'_>) -> Result<Option<super::Member>> {
        let Some(id) = self.0.assigned_member_id else {
            return Ok(None);
        };
        let member = loader::find::<member::Entity>(ctx, self.0.workspace_id, id).await?;
        Ok(member.map(super::Member))
    }

    /// The newest message, for inbox previews (scope `messages:read`).
    #[graphql(guard = "RequireScope(Scope::MessagesRead)")]
    async fn last_message(&self, ctx: &Context<'_>) -> Result<Option<super::Message>> {
        let Some(id) = self.0.last_message_id else {
            return Ok(None);
        };
        let message = loader::find::<message::Entity>(ctx, self.0.workspace_id, id).await?;
        Ok(message.map(super::Message))
    }

    /// The conversation's messages, oldest to newest (scope `messages:read`). Page backwards
    /// from the newest with `last` (then `before: startCursor`), forwards with `first`/`after`;
    /// at most 100 a page.
    #[graphql(
        guard = "RequireScope(Scope::MessagesRead)",
        complexity = "connection::page_cost(first.or(last), child_complexity)"
    )]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, super::Message, MessageCount>> {
        let select = message::Entity::find_in_workspace(self.0.workspace_id)
            .filter(message::Column::ConversationId.eq(self.0.id));
        let count = MessageCount(select.clone());
        let list = lists::messages(format!("conversation/{}/messages", self.0.id));
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let page = connection::connection(ctx, list, select, args, super::Message).await?;
        let mut counted =
            Connection::with_additional_fields(page.has_previous_page, page.has_next_page, count);
        counted.edges = page.edges;
        Ok(counted)
    }
}

/// The extra field of a conversation's messages: counted only when asked for.
pub struct MessageCount(Select<message::Entity>);

#[Object]
impl MessageCount {
    /// Messages in the conversation (one COUNT over the conversation's index).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let db = ctx.data::<DatabaseConnection>()?;
        Ok(self.0.clone().count(db).await.map_err(AppError::from)?)
    }
}
