use async_graphql::{Context, ID, Object, Result, connection::Connection};
use entity::{WorkspaceScoped, webhook_delivery, webhook_endpoint};
use sea_orm::{ColumnTrait, DatabaseConnection, QueryFilter};

use crate::{
    auth::Scope,
    error::AppError,
    graphql::{
        connection,
        guard::{RequireScope, principal},
        object::{WebhookDelivery, WebhookEndpoint},
        parse_id,
    },
    pagination::{Order, PageArgs, Position},
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
        let page = connection::by_id(
            ctx,
            select,
            webhook_endpoint::Column::Id,
            first,
            after,
            WebhookEndpoint,
            |endpoint| endpoint.id,
        );
        Ok(page.await?)
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
        let db = ctx.data::<DatabaseConnection>()?;
        let endpoint_id = parse_id(&endpoint_id, "webhook endpoint")?;
        webhook_endpoint::Entity::find_by_id_in_workspace(workspace_id, endpoint_id)
            .one(db)
            .await?
            .ok_or_else(|| AppError::not_found("webhook endpoint"))?;
        let select = webhook_delivery::Entity::find_in_workspace(workspace_id)
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id));
        let order = Order {
            descending: true,
            ..Order::by_id(webhook_delivery::Column::Id)
        };
        let list = format!("webhook_deliveries?endpoint={endpoint_id}");
        let page = connection::connection(
            ctx,
            &list,
            select,
            &order,
            PageArgs::forward(first, after),
            |delivery| Position::Id(delivery.id),
            WebhookDelivery,
        );
        Ok(page.await?)
    }
}
