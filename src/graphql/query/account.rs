use async_graphql::{Context, Object, Result, connection::Connection};
use entity::{WorkspaceScoped, api_key, member, sender};

use crate::{
    accounts,
    graphql::{
        connection,
        guard::{SignedIn, principal},
        object::{ApiKey, Member, Sender},
    },
    pagination::List,
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
        let list = List::<member::Entity>::by_id(member::Column::Id, |row| row.id);
        Ok(connection::forward(ctx, list, select, first, after, Member).await?)
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
        let list = List::<sender::Entity>::by_id(sender::Column::Id, |row| row.id);
        Ok(connection::forward(ctx, list, select, first, after, Sender).await?)
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
        let list = List::<api_key::Entity>::by_id(api_key::Column::Id, |row| row.id);
        Ok(connection::forward(ctx, list, select, first, after, ApiKey).await?)
    }
}
