use async_graphql::{Context, ID, Object, Result};
use entity::{WorkspaceScoped, message, send_attempt};
use sea_orm::DatabaseConnection;

use crate::{
    auth::Scope,
    error::AppError,
    graphql::{
        guard::{RequireAnyScope, RequireScope, principal},
        object::{Message, SendAttempt},
        parse_id,
    },
};

#[derive(Default)]
pub struct MessageQuery;

#[Object]
impl MessageQuery {
    /// One message, sent or received (scope `messages:read`).
    #[graphql(guard = "RequireScope(Scope::MessagesRead)")]
    async fn message(&self, ctx: &Context<'_>, id: ID) -> Result<Message> {
        let db = ctx.data::<DatabaseConnection>()?;
        let id = parse_id(&id, "message")?;
        let message = message::Entity::find_by_id_in_workspace(principal(ctx)?.workspace_id, id)
            .one(db)
            .await
            .map_err(AppError::from)?
            .ok_or_else(|| AppError::not_found("message"))?;
        Ok(Message(message))
    }

    /// A send attempt: its state, wamid, delivery status and errors (scope `messages:send` or
    /// `messages:read`).
    #[graphql(guard = "RequireAnyScope(&[Scope::MessagesSend, Scope::MessagesRead])")]
    async fn send_attempt(&self, ctx: &Context<'_>, id: ID) -> Result<SendAttempt> {
        let db = ctx.data::<DatabaseConnection>()?;
        let id = parse_id(&id, "send attempt")?;
        let attempt =
            send_attempt::Entity::find_by_id_in_workspace(principal(ctx)?.workspace_id, id)
                .one(db)
                .await
                .map_err(AppError::from)?
                .ok_or_else(|| AppError::not_found("send attempt"))?;
        Ok(SendAttempt(attempt))
    }
}
