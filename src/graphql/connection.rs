//! Keyset pages as GraphQL Relay connections, read in a transaction confined to the caller's
//! workspace. The pages themselves, their cursors and the lists' orders are
//! [`crate::pagination`]'s, shared with REST.

use async_graphql::{
    Context, OutputType,
    connection::{Connection, Edge},
};
use sea_orm::{DatabaseConnection, EntityTrait, Select};

use crate::{
    db::{self, ServerSecrets},
    error::AppError,
    graphql::guard::principal,
    pagination::{Cursors, DEFAULT_PAGE, List, ListId, MAX_PAGE, PageArgs, page},
};

/// A page as a Relay connection for the caller's workspace; cursors of any other list (or the
/// same list with other filters) are refused. The page is read in a transaction confined to the
/// workspace, so on Postgres row security holds it there even if `select` forgot to.
pub async fn connection<E, T>(
    ctx: &Context<'_>,
    list: List<E>,
    select: Select<E>,
    args: PageArgs,
    node: impl Fn(E::Model) -> T,
) -> Result<Connection<String, T>, AppError>
where
    E: EntityTrait,
    T: OutputType,
{
    let db = ctx
        .data::<DatabaseConnection>()
        .map_err(|_| anyhow::anyhow!("the schema has no database"))?;
    let secrets = ctx
        .data::<std::sync::Arc<ServerSecrets>>()
        .map_err(|_| anyhow::anyhow!("the schema has no secrets"))?;
    let workspace_id = principal(ctx)?.workspace_id;
    let cursors = Cursors::new(secrets, ListId::new(workspace_id, list.name.as_str()));
    let txn = db::begin_tenant(db, workspace_id).await?;
    let page = page(&txn, &cursors, select, &list, args).await?;
    txn.commit().await?;
    let mut connection = Connection::new(page.has_previous, page.has_next);
    connection.edges.extend(
        page.rows
            .into_iter()
            .map(|(cursor, row)| Edge::new(cursor, node(row))),
    );
    Ok(connection)
}

/// The first page, or the page after the cursor `after`, as [`connection`] reads it.
pub async fn forward<E, T>(
    ctx: &Context<'_>,
    list: List<E>,
    select: Select<E>,
    first: Option<i32>,
    after: Option<String>,
    node: impl Fn(E::Model) -> T,
) -> Result<Connection<String, T>, AppError>
where
    E: EntityTrait,
    T: OutputType,
{
    connection(ctx, list, select, PageArgs::forward(first, after), node).await
}

/// The cost of a page for the complexity limit: each of its rows costs what one node does
/// (`first` or `last`, defaulting like [`crate::pagination::page_size`]), plus one.
pub fn page_cost(size: Option<i32>, child_complexity: usize) -> usize {
    let rows = size.map_or(DEFAULT_PAGE, |size| size.clamp(0, MAX_PAGE as i32) as u64);
    rows as usize * child_complexity + 1
}
