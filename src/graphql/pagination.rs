//! Relay connections over keyset pages. Ids are UUID v7, so id order is creation order and an id
//! is a stable cursor; no OFFSET anywhere.

use async_graphql::{
    OutputType,
    connection::{Connection, Edge},
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

use crate::error::{AppError, ErrorCode};

pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: u64 = 100;

/// The page size asked for, checked against [`MAX_PAGE`].
pub fn page_size(first: Option<i32>) -> Result<u64, AppError> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(first) if (0..=MAX_PAGE as i32).contains(&first) => Ok(first as u64),
        Some(_) => Err(AppError::client(
            ErrorCode::InvalidRequest,
            format!("first must be between 0 and {MAX_PAGE}"),
        )),
    }
}

fn parse_cursor(after: Option<&str>) -> Result<Option<Uuid>, AppError> {
    after
        .map(|cursor| {
            Uuid::parse_str(cursor)
                .map_err(|_| AppError::client(ErrorCode::InvalidRequest, "after is not a cursor"))
        })
        .transpose()
}

/// One page of `select` (already scoped to a workspace) in id order, after the cursor `after`.
pub async fn by_id<E, T>(
    db: &DatabaseConnection,
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
    let size = page_size(first)?;
    let mut select = select.order_by_asc(id_column).limit(size + 1);
    if let Some(after) = parse_cursor(after.as_deref())? {
        select = select.filter(id_column.gt(after));
    }
    let mut rows = select.all(db).await?;
    let has_next = rows.len() as u64 > size;
    rows.truncate(size as usize);
    let mut connection = Connection::new(false, has_next);
    connection.edges.extend(rows.into_iter().map(|row| {
        let cursor = id_of(&row).to_string();
        Edge::new(cursor, node(row))
    }));
    Ok(connection)
}
