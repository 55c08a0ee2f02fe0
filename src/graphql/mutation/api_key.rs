use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use sea_orm::DatabaseConnection;

use crate::{
    accounts,
    auth::Scope,
    graphql::{
        guard::{SignedIn, principal},
        object::ApiKey,
        parse_id,
    },
};

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// What the key is for, e.g. "Zapier".
    pub name: String,
    /// What the key may do; never more than your role allows.
    pub scopes: Vec<Scope>,
    /// Requests per minute (1 to 100000); the server default (60) when omitted.
    pub rate_limit_per_minute: Option<i32>,
}

#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    pub api_key: ApiKey,
    /// The key itself (`pk_…`). Shown this once: Parley keeps only its hash.
    pub secret: String,
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Creates an API key acting as you. Needs a member's session, not another key.
    #[graphql(guard = "SignedIn")]
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> Result<CreateApiKeyPayload> {
        let db = ctx.data::<DatabaseConnection>()?;
        let (key, secret) = accounts::create_api_key(
            db,
            principal(ctx)?,
            &input.name,
            &input.scopes,
            input.rate_limit_per_minute,
        )
        .await?;
        Ok(CreateApiKeyPayload {
            api_key: ApiKey(key),
            secret,
        })
    }

    /// Revokes a key: refused from its next request on. Members revoke their own keys; owners and
    /// admins any key of the workspace.
    #[graphql(guard = "SignedIn")]
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> Result<ApiKey> {
        let db = ctx.data::<DatabaseConnection>()?;
        let id = parse_id(&id, "API key")?;
        Ok(ApiKey(
            accounts::revoke_api_key(db, principal(ctx)?, id).await?,
        ))
    }
}
