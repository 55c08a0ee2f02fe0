//! Keyset pages as GraphQL Relay connections, read in a transaction confined to the caller's
//! workspace. The pages themselves, their cursors and the lists' orders are
//! [`crate::pagination`]'s, shared with REST.

use async_graphql::{
    Context, OutputType,
    connection::{Connection, Edge},
};
use sea_orm::{DatabaseConnection, EntityTrait, Select};
use uuid::Uuid;

use crate::{
    db::{self, ServerSecrets},
    error::AppError,
    graphql::guard::principal,
    pagination::{Cursors, ListId, Order, PageArgs, Position, page},
};

/// A page as a Relay connection for the caller's workspace. `list` names the list and its
/// filters; cursors of any other list are refused. The page is read in a transaction confined to
/// the workspace, so on Postgres row security holds it there even if `select` forgot to.
pub async fn connection<E, T>(
    ctx: &Context<'_>,
    list: &str,
    select: Select<E>,
    order: &Order<E>,
    args: PageArgs,
    position_of: impl Fn(&E::Model) -> Position,
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
    let cursors = Cursors::new(secrets, ListId::new(workspace_id, list));
    let txn = db::begin_tenant(db, workspace_id).await?;
    let page = page(&txn, &cursors, select, order, args, position_of).await?;
    txn.commit().await?;
    let mut connection = Connection::new(page.has_previous, page.has_next);
    connection.edges.extend(
        page.rows
            .into_iter()
            .map(|(cursor, row)| Edge::new(cursor, node(row))),
    );
    Ok(connection)
}

/// One page of `select` in id order (oldest first), after the cursor `after`; the list is named
/// by its table.
pub async fn by_id<E, T>(
    ctx: &Context<'_>,
    select: Select<E>,
    id_column: E::Column,
    first: Option<i32>,
    after: Option<String>,
    node: impl Fn(E::Model) -> T,
    id_of: impl Fn(&E::Model) -> Uuid,
) -> Result<Connection<String, T>, AppError>
where
    E: EntityTrait,
    T: OutputType,
{
    let order = Order::by_id(id_column);
    let args = PageArgs::forward(first, after);
    let list = E::default().table_name().to_owned();
    let position_of = |row: &E::Model| Position::Id(id_of(row));
    connection(ctx, &list, select, &order, args, position_of, node).await
}
