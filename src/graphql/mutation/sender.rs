use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result};
use sea_orm::DatabaseConnection;
use secrecy::SecretString;

use crate::{
    auth::Scope,
    db::ServerSecrets,
    graphql::{
        guard::{RequireScope, principal},
        object::{Sender, SenderKind},
        parse_id,
    },
    senders::{self, NewSender, SenderSettings},
};

#[derive(InputObject)]
pub struct ConnectSenderInput {
    pub kind: SenderKind,
    /// The number in international format.
    pub phone_number: String,
    /// Meta's phone number id (CLOUD_API).
    pub phone_number_id: Option<String>,
    /// The WhatsApp Business Account id (CLOUD_API).
    pub waba_id: Option<String>,
    /// A system-user access token with whatsapp_business_messaging (CLOUD_API); stored encrypted,
    /// never returned.
    pub access_token: Option<String>,
    pub name: String,
}

#[derive(Default)]
pub struct SenderMutation;

#[Object]
impl SenderMutation {
    /// Connects a WhatsApp number to the workspace, owned by you (scope `senders:manage`: owners
    /// and admins).
    #[graphql(guard = "RequireScope(Scope::SendersManage)")]
    async fn connect_sender(&self, ctx: &Context<'_>, input: ConnectSenderInput) -> Result<Sender> {
        let actor = principal(ctx)?;
        let db = ctx.data::<DatabaseConnection>()?;
        let secrets = ctx.data::<Arc<ServerSecrets>>()?;
        let new = NewSender {
            kind: input.kind.into(),
            name: input.name,
            phone_number: input.phone_number,
            phone_number_id: input.phone_number_id,
            waba_id: input.waba_id,
            access_token: input.access_token.map(SecretString::from),
        };
        let sender =
            senders::connect(db, secrets, actor.workspace_id, actor.member_id, new).await?;
        Ok(Sender(sender))
    }

    /// Changes a sender's name, daily cap and pacing (scope `senders:manage`).
    #[graphql(guard = "RequireScope(Scope::SendersManage)")]
    async fn update_sender(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: SenderSettings,
    ) -> Result<Sender> {
        let db = ctx.data::<DatabaseConnection>()?;
        let id = parse_id(&id, "sender")?;
        let sender = senders::update(db, principal(ctx)?.workspace_id, id, input).await?;
        Ok(Sender(sender))
    }
}
