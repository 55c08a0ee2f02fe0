use async_graphql::{Context, ID, Object, Result};
use entity::conversation::ConversationStatus;
use sea_orm::DatabaseConnection;

use crate::{
    auth::Scope,
    conversations,
    error::AppError,
    graphql::{
        guard::{RequireScope, principal},
        object::Conversation,
        parse_id,
    },
};

#[derive(Default)]
pub struct ConversationMutation;

#[Object]
impl ConversationMutation {
    /// Sets the unread count to zero (scope `conversations:write`).
    #[graphql(guard = "RequireScope(Scope::ConversationsWrite)")]
    async fn mark_conversation_read(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let (db, workspace_id, id) = target(ctx, &id)?;
        Ok(Conversation(
            conversations::mark_read(db, workspace_id, id).await?,
        ))
    }

    /// Closes a conversation: the next message between its sender and contact opens a new one
    /// (scope `conversations:write`).
    #[graphql(guard = "RequireScope(Scope::ConversationsWrite)")]
    async fn close_conversation(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let (db, workspace_id, id) = target(ctx, &id)?;
        let closed =
            conversations::set_status(db, workspace_id, id, ConversationStatus::Closed).await?;
        Ok(Conversation(closed))
    }

    /// Reopens a closed conversation; refused with `invalid_request` while another conversation
    /// between the same sender and contact is open (scope `conversations:write`).
    #[graphql(guard = "RequireScope(Scope::ConversationsWrite)")]
    async fn reopen_conversation(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let (db, workspace_id, id) = target(ctx, &id)?;
        let open =
            conversations::set_status(db, workspace_id, id, ConversationStatus::Open).await?;
        Ok(Conversation(open))
    }

    /// Assigns a conversation to a member of the workspace, or unassigns it when `memberId` is
    /// null (scope `conversations:write`).
    #[graphql(guard = "RequireScope(Scope::ConversationsWrite)")]
    async fn assign_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        member_id: Option<ID>,
    ) -> Result<Conversation> {
        let (db, workspace_id, id) = target(ctx, &id)?;
        let member_id = member_id
            .map(|member_id| parse_id(&member_id, "member"))
            .transpose()?;
        let assigned = conversations::assign(db, workspace_id, id, member_id).await?;
        Ok(Conversation(assigned))
    }
}

/// The database, the caller's workspace and the conversation id a mutation works on.
fn target<'a>(
    ctx: &Context<'a>,
    id: &ID,
) -> Result<(&'a DatabaseConnection, uuid::Uuid, uuid::Uuid), AppError> {
    let db = ctx
        .data::<DatabaseConnection>()
        .map_err(|_| anyhow::anyhow!("the schema has no database"))?;
    Ok((
        db,
        principal(ctx)?.workspace_id,
        parse_id(id, "conversation")?,
    ))
}
