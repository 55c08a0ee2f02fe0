use async_graphql::{Context, ID, Object, Result};
use sea_orm::DatabaseConnection;

use crate::{
    auth::Scope,
    graphql::{
        guard::{RequireAnyScope, principal},
        object::MessageTemplate,
        parse_id,
    },
    templates,
};

#[derive(Default)]
pub struct TemplateQuery;

#[Object]
impl TemplateQuery {
    /// A sender's message templates as last synced from Meta (syncTemplates), by name and
    /// language; empty until the first sync (scope `messages:send` or `senders:manage`).
    #[graphql(guard = "RequireAnyScope(&[Scope::MessagesSend, Scope::SendersManage])")]
    async fn templates(&self, ctx: &Context<'_>, sender_id: ID) -> Result<Vec<MessageTemplate>> {
        let db = ctx.data::<DatabaseConnection>()?;
        let sender_id = parse_id(&sender_id, "sender")?;
        let rows = templates::list(db, principal(ctx)?.workspace_id, sender_id).await?;
        Ok(rows.into_iter().map(MessageTemplate).collect())
    }
}
