use async_graphql::{Context, ID, Object, Result};
use entity::{message, send_attempt};

use crate::{
    auth::Scope,
    graphql::{
        find_in_workspace,
        guard::{RequireAnyScope, RequireScope},
        object::{Message, SendAttempt},
    },
};

#[derive(Default)]
pub struct MessageQuery;

#[Object]
impl MessageQuery {
    /// One message, sent or received (scope `messages:read`).
    #[graphql(guard = "RequireScope(Scope::MessagesRead)")]
    async fn message(&self, ctx: &Context<'_>, id: ID) -> Result<Message> {
        let found = find_in_workspace::<message::Entity>(ctx, &id, "message").await?;
        Ok(Message(found))
    }

    /// A send attempt: its state, wamid, delivery status and errors (scope `messages:send` or
    /// `messages:read`).
    #[graphql(guard = "RequireAnyScope(&[Scope::MessagesSend, Scope::MessagesRead])")]
    async fn send_attempt(&self, ctx: &Context<'_>, id: ID) -> Result<SendAttempt> {
        let found = find_in_workspace::<send_attempt::Entity>(ctx, &id, "send attempt").await?;
        Ok(SendAttempt(found))
    }
}
