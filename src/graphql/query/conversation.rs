use async_graphql::{Context, ID, Object, Result, connection::Connection};
use entity::{WorkspaceScoped, conversation};
use sea_orm::{ColumnTrait, QueryFilter};
use serde_json::json;

use crate::{
    auth::Scope,
    graphql::{
        connection, find_in_workspace,
        guard::{RequireScope, principal},
        object::{Conversation, ConversationStatus},
        parse_id,
    },
    pagination::lists,
};

#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// The inbox: conversations by last activity, the most recent first (scope
    /// `conversations:read`), optionally only those with `status` or held on the sender
    /// `senderId`. A conversation whose activity changes during a walk moves to the top: start
    /// again from the first page to see it there. At most 100 a page.
    #[graphql(
        guard = "RequireScope(Scope::ConversationsRead)",
        complexity = "connection::page_cost(first, child_complexity)"
    )]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<ConversationStatus>,
        sender_id: Option<ID>,
    ) -> Result<Connection<String, Conversation>> {
        let mut select = conversation::Entity::find_in_workspace(principal(ctx)?.workspace_id);
        let status: Option<conversation::ConversationStatus> = status.map(Into::into);
        if let Some(status) = status {
            select = select.filter(conversation::Column::Status.eq(status));
        }
        // A sender that is not the workspace's simply holds none of its conversations.
        let sender_id = sender_id.map(|id| parse_id(&id, "sender")).transpose();
        let sender_id = match sender_id {
            Ok(sender_id) => sender_id,
            Err(_) => return Ok(Connection::new(false, false)),
        };
        if let Some(sender_id) = sender_id {
            select = select.filter(conversation::Column::SenderId.eq(sender_id));
        }
        let filters = json!([status.map(|status| format!("{status:?}")), sender_id]);
        let list = lists::conversations(format!("conversations {filters}"));
        Ok(connection::forward(ctx, list, select, first, after, Conversation).await?)
    }

    /// One conversation (scope `conversations:read`).
    #[graphql(guard = "RequireScope(Scope::ConversationsRead)")]
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let found = find_in_workspace::<conversation::Entity>(ctx, &id, "conversation").await?;
        Ok(Conversation(found))
    }
}
