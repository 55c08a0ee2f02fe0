use async_graphql::{Context, ID, Object, Result, connection::Connection};
use entity::{WorkspaceScoped, webhook_delivery, webhook_endpoint};
use sea_orm::{ColumnTrait, QueryFilter};

use crate::{
    auth::Scope,
    graphql::{
        connection, find_in_workspace,
        guard::{RequireScope, principal},
        object::{WebhookDelivery, WebhookEndpoint},
    },
    pagination::List,
};

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The workspace's outbound webhook endpoints, oldest first (scope `webhooks:manage`).
    #[graphql(guard = "RequireScope(Scope::WebhooksManage)")]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, WebhookEndpoint>> {
        let select = webhook_endpoint::Entity::find_in_workspace(principal(ctx)?.workspace_id);
        let list =
            List::<webhook_endpoint::Entity>::by_id(webhook_endpoint::Column::Id, |endpoint| {
                endpoint.id
            });
        Ok(connection::forward(ctx, list, select, first, after, WebhookEndpoint).await?)
    }

    /// An endpoint's delivery log, newest first (scope `webhooks:manage`).
    #[graphql(guard = "RequireScope(Scope::WebhooksManage)")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, WebhookDelivery>> {
        let workspace_id = principal(ctx)?.workspace_id;
        let endpoint_id =
            find_in_workspace::<webhook_endpoint::Entity>(ctx, &endpoint_id, "webhook endpoint")
                .await?
                .id;
        let select = webhook_delivery::Entity::find_in_workspace(workspace_id)
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id));
        let list = List {
            name: format!("webhook_deliveries?endpoint={endpoint_id}"),
            ..List::<webhook_delivery::Entity>::by_id(webhook_delivery::Column::Id, |delivery| {
                delivery.id
            })
            .newest_first()
        };
        Ok(connection::forward(ctx, list, select, first, after, WebhookDelivery).await?)
    }
}
