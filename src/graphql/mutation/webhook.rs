use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;

use crate::{
    auth::Scope,
    config::Config,
    db::ServerSecrets,
    events::EventKind,
    graphql::{
        guard::{RequireScope, principal},
        object::{WebhookDelivery, WebhookEndpoint, WebhookEndpointWithSecret},
        parse_id,
    },
    outbound::endpoints::{self, EndpointChanges},
};

#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// A public `https` URL (the media-URL rules); checked again on the resolved addresses at
    /// every delivery.
    pub url: String,
    /// The event types to receive (at least one).
    pub events: Vec<EventKind>,
    /// At most 500 characters.
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    pub url: Option<String>,
    pub events: Option<Vec<EventKind>>,
    /// null removes the description.
    pub description: Option<Option<String>>,
}

#[derive(Default)]
pub struct WebhookMutation;

fn allow_loopback(ctx: &Context<'_>) -> Result<bool> {
    Ok(ctx.data::<Arc<Config>>()?.outbound_webhooks.allow_loopback)
}

#[Object]
impl WebhookMutation {
    /// Registers an outbound webhook endpoint; the answer holds its signing secret, shown only
    /// this once (scope `webhooks:manage`: owners and admins).
    #[graphql(guard = "RequireScope(Scope::WebhooksManage)")]
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> Result<WebhookEndpointWithSecret> {
        let db = ctx.data::<DatabaseConnection>()?;
        let secrets = ctx.data::<Arc<ServerSecrets>>()?;
        let changes = EndpointChanges {
            url: Some(input.url),
            events: Some(input.events),
            description: Some(input.description),
        };
        let workspace_id = principal(ctx)?.workspace_id;
        let (endpoint, secret) =
            endpoints::create(db, secrets, allow_loopback(ctx)?, workspace_id, changes).await?;
        Ok(WebhookEndpointWithSecret {
            endpoint: WebhookEndpoint(endpoint),
            secret: secret.expose_secret().to_owned(),
        })
    }

    /// Changes an endpoint's URL, events or description (scope `webhooks:manage`).
    #[graphql(guard = "RequireScope(Scope::WebhooksManage)")]
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpoint> {
        let db = ctx.data::<DatabaseConnection>()?;
        let id = parse_id(&id, "webhook endpoint")?;
        let changes = EndpointChanges {
            url: input.url,
            events: input.events,
            description: input.description,
        };
        let workspace_id = principal(ctx)?.workspace_id;
        let endpoint =
            endpoints::update(db, allow_loopback(ctx)?, workspace_id, id, changes).await?;
        Ok(WebhookEndpoint(endpoint))
    }

    /// Stops deliveries to an endpoint; events meanwhile are not queued for it (scope
    /// `webhooks:manage`).
    #[graphql(guard = "RequireScope(Scope::WebhooksManage)")]
    async fn disable_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        set_enabled(ctx, &id, false).await
    }

    /// Resumes deliveries to an endpoint, clearing why it was disabled (scope
    /// `webhooks:manage`).
    #[graphql(guard = "RequireScope(Scope::WebhooksManage)")]
    async fn enable_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        set_enabled(ctx, &id, true).await
    }

    /// Deletes an endpoint and its delivery log (scope `webhooks:manage`).
    #[graphql(guard = "RequireScope(Scope::WebhooksManage)")]
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        let db = ctx.data::<DatabaseConnection>()?;
        let id = parse_id(&id, "webhook endpoint")?;
        let endpoint = endpoints::delete(db, principal(ctx)?.workspace_id, id).await?;
        Ok(WebhookEndpoint(endpoint))
    }

    /// Replaces an endpoint's signing secret; the new one, shown only this once, signs every
    /// delivery from now on (scope `webhooks:manage`).
    #[graphql(guard = "RequireScope(Scope::WebhooksManage)")]
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<WebhookEndpointWithSecret> {
        let db = ctx.data::<DatabaseConnection>()?;
        let secrets = ctx.data::<Arc<ServerSecrets>>()?;
        let id = parse_id(&id, "webhook endpoint")?;
        let (endpoint, secret) =
            endpoints::rotate_secret(db, secrets, principal(ctx)?.workspace_id, id).await?;
        Ok(WebhookEndpointWithSecret {
            endpoint: WebhookEndpoint(endpoint),
            secret: secret.expose_secret().to_owned(),
        })
    }

    /// Sends a delivery again now, with the same event id and a fresh schedule of retries
    /// (scope `webhooks:manage`).
    #[graphql(guard = "RequireScope(Scope::WebhooksManage)")]
    async fn redeliver_webhook(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookDelivery> {
        let db = ctx.data::<DatabaseConnection>()?;
        let id = parse_id(&id, "webhook delivery")?;
        let delivery = endpoints::redeliver(db, principal(ctx)?.workspace_id, id).await?;
        Ok(WebhookDelivery(delivery))
    }
}

async fn set_enabled(ctx: &Context<'_>, id: &ID, enabled: bool) -> Result<WebhookEndpoint> {
    let db = ctx.data::<DatabaseConnection>()?;
    let id = parse_id(id, "webhook endpoint")?;
    let endpoint = endpoints::set_enabled(db, principal(ctx)?.workspace_id, id, enabled).await?;
    Ok(WebhookEndpoint(endpoint))
}
