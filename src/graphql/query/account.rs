use async_graphql::{Context, Object, Result, connection::Connection};
use entity::{WorkspaceScoped, api_key, member, sender};

use crate::{
    accounts,
    graphql::{
        connection,
        guard::{SignedIn, principal},
        object::{ApiKey, Member, Sender},
    },
};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The workspace's members, oldest first.
    #[graphql(guard = "SignedIn")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Member>> {
        let select = member::Entity::find_in_workspace(principal(ctx)?.workspace_id);
        let page = connection::by_id(ctx, select, member::Column::Id, first, after, Member, |m| {
            m.id
        });
        Ok(page.await?)
    }

    /// The workspace's senders, oldest first.
    #[graphql(guard = "SignedIn")]
    async fn senders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Sender>> {
        let select = sender::Entity::find_in_workspace(principal(ctx)?.workspace_id);
        let page = connection::by_id(ctx, select, sender::Column::Id, first, after, Sender, |s| {
            s.id
        });
        Ok(page.await?)
    }

    /// API keys: all of the workspace's for owners and admins, your own for members.
    #[graphql(guard = "SignedIn")]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ApiKey>> {
        let select = accounts::visible_api_keys(principal(ctx)?);
        let page = connection::by_id(
            ctx,
            select,
            api_key::Column::Id,
            first,
            after,
            ApiKey,
            |k| k.id,
        );
        Ok(page.await?)
    }
}
