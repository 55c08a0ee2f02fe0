//! Keyset pages behind every list, GraphQL's Relay connections and REST's `pagination.next` alike.
//!
//! A list is ordered by its id (UUID v7: creation order) or by a time column with the id as tie
//! breaker, and a page is "the next N rows after this sort key", answered from an index: no OFFSET,
//! so a deep page costs what the first one does, and rows inserted during a walk never shift it.
//!
//! Cursors are opaque: the sort key of a row, signed with an HMAC over the workspace and the list
//! (with its filters). A cursor altered by hand, or handed to another workspace, another list or
//! the same list with other filters, fails the signature and is refused with `invalid_request` —
//! it can never point a query at rows the caller could not already see, nor be a 500.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order as SortOrder, QueryFilter, QueryOrder,
    QuerySelect, Select,
    sea_query::{Expr, ExprTrait},
};
use secrecy::ExposeSecret;
use sha2::Sha256;
use uuid::Uuid;

use crate::{db::ServerSecrets, error::AppError};

pub mod lists;

pub use lists::List;

pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: u64 = 100;

/// Bytes of HMAC-SHA256 kept in a cursor: forging one takes 2^128 guesses.
const MAC_LEN: usize = 16;

/// The page size asked for (`first`, `last` or REST's `limit`), checked against [`MAX_PAGE`].
pub fn page_size(name: &str, size: Option<i32>) -> Result<u64, AppError> {
    match size {
        None => Ok(DEFAULT_PAGE),
        Some(size) if (0..=MAX_PAGE as i32).contains(&size) => Ok(size as u64),
        Some(_) => Err(AppError::invalid(format!(
            "{name} must be between 0 and {MAX_PAGE}"
        ))),
    }
}

/// Where a row sits in its list: the sort key a cursor carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Lists in id order.
    Id(Uuid),
    /// Lists in `(time, id)` order.
    At(DateTime<Utc>, Uuid),
}

impl Position {
    fn to_bytes(self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(29);
        match self {
            Position::Id(id) => {
                bytes.push(1);
                bytes.extend_from_slice(id.as_bytes());
            }
            Position::At(at, id) => {
                bytes.push(2);
                bytes.extend_from_slice(&at.timestamp().to_be_bytes());
                bytes.extend_from_slice(&at.timestamp_subsec_nanos().to_be_bytes());
                bytes.extend_from_slice(id.as_bytes());
            }
        }
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [1, id @ ..] => Some(Position::Id(Uuid::from_slice(id).ok()?)),
            [2, rest @ ..] if rest.len() == 28 => {
                let secs = i64::from_be_bytes(rest[..8].try_into().ok()?);
                let nanos = u32::from_be_bytes(rest[8..12].try_into().ok()?);
                let at = DateTime::from_timestamp(secs, nanos)?;
                Some(Position::At(at, Uuid::from_slice(&rest[12..]).ok()?))
            }
            _ => None,
        }
    }
}

/// Which list a cursor belongs to: one workspace's rows of one kind, filtered one way.
#[derive(Clone, Debug)]
pub struct ListId {
    workspace_id: Uuid,
    /// The list and its filters, e.g. `conversations?status=OPEN`.
    name: String,
}

impl ListId {
    pub fn new(workspace_id: Uuid, name: impl Into<String>) -> Self {
        Self {
            workspace_id,
            name: name.into(),
        }
    }
}

/// Signs and checks cursors with a key derived from the server's token secret, so that every
/// process sharing the database accepts the cursors of the others.
pub struct Cursors {
    key: [u8; 32],
    list: ListId,
}

impl Cursors {
    pub fn new(secrets: &ServerSecrets, list: ListId) -> Self {
        let mut derive =
            <Hmac<Sha256> as Mac>::new_from_slice(secrets.jwt_secret.expose_secret().as_bytes())
                .expect("HMAC takes keys of any length");
        derive.update(b"parley pagination cursor v1");
        Self {
            key: derive.finalize().into_bytes().into(),
            list,
        }
    }

    fn mac(&self, position: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(self.list.workspace_id.as_bytes());
        mac.update(&(self.list.name.len() as u64).to_be_bytes());
        mac.update(self.list.name.as_bytes());
        mac.update(position);
        mac.finalize().into_bytes().into()
    }

    pub fn encode(&self, position: Position) -> String {
        let mut bytes = position.to_bytes();
        let mac = self.mac(&bytes);
        bytes.extend_from_slice(&mac[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position a cursor names, if this list issued it.
    pub fn decode(&self, argument: &str, cursor: &str) -> Result<Position, AppError> {
        let refused = || {
            AppError::invalid(format!(
                "{argument} is not a cursor of this list: use a cursor this list returned, with \
                 the same filters (cursors of other lists or workspaces, or altered ones, are \
                 refused)"
            ))
        };
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| refused())?;
        if bytes.len() <= MAC_LEN {
            return Err(refused());
        }
        let (position, mac) = bytes.split_at(bytes.len() - MAC_LEN);
        let expected = self.mac(position);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(mac, &expected[..MAC_LEN])) {
            return Err(refused());
        }
        Position::from_bytes(position).ok_or_else(refused)
    }
}

/// How a list is sorted.
pub struct Order<E: EntityTrait> {
    /// The time column when the list is in `(time, id)` order; in id order without one.
    pub at: Option<E::Column>,
    pub id: E::Column,
    /// Newest first (an inbox) rather than oldest first.
    pub descending: bool,
}

impl<E: EntityTrait> Order<E> {
    pub fn by_id(id: E::Column) -> Self {
        Self {
            at: None,
            id,
            descending: false,
        }
    }

    /// Rows strictly beyond `position` in ascending (`after`) or descending order.
    fn beyond(&self, position: Position, ascending: bool) -> Result<Expr, ()> {
        let (key, bound) = match (self.at, position) {
            (None, Position::Id(id)) => (self.id.into_expr(), Expr::val(id)),
            (Some(at_column), Position::At(at, id)) => (
                Expr::tuple([at_column.into_expr(), self.id.into_expr()]),
                Expr::tuple([Expr::val(at), Expr::val(id)]),
            ),
            _ => return Err(()),
        };
        Ok(if ascending {
            key.gt(bound)
        } else {
            key.lt(bound)
        })
    }
}

/// The Relay arguments of a list: `first`/`after` page forwards, `last`/`before` backwards.
#[derive(Default, Debug, Clone)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    pub fn forward(first: Option<i32>, after: Option<String>) -> Self {
        Self {
            first,
            after,
            ..Self::default()
        }
    }
}

/// One page of rows, each with its cursor, in the list's order.
pub struct Page<M> {
    pub rows: Vec<(String, M)>,
    pub has_previous: bool,
    pub has_next: bool,
}

impl<M> Page<M> {
    /// The cursor to continue forwards from, when there is more.
    pub fn next_cursor(&self) -> Option<String> {
        match self.has_next {
            true => self.rows.last().map(|(cursor, _)| cursor.clone()),
            false => None,
        }
    }
}

/// One page of `select` (already scoped to the caller's workspace and filtered).
pub async fn page<E>(
    db: &impl ConnectionTrait,
    cursors: &Cursors,
    select: Select<E>,
    list: &List<E>,
    args: PageArgs,
) -> Result<Page<E::Model>, AppError>
where
    E: EntityTrait,
{
    let order = &list.order;
    let backwards = args.last.is_some() || args.before.is_some();
    if backwards && (args.first.is_some() || args.after.is_some()) {
        return Err(AppError::invalid(
            "page forwards with first/after or backwards with last/before, not both at once",
        ));
    }
    let (size, cursor) = match backwards {
        false => (
            page_size("first", args.first)?,
            args.after.map(|cursor| ("after", cursor)),
        ),
        true => (
            page_size("last", args.last)?,
            args.before.map(|cursor| ("before", cursor)),
        ),
    };
    // Forwards in an ascending list, or backwards in a descending one, walks up the index.
    let ascending = backwards == order.descending;
    let mut select = select;
    if let Some((argument, cursor)) = &cursor {
        let position = cursors.decode(argument, cursor)?;
        let beyond = order
            .beyond(position, ascending)
            .map_err(|_| AppError::invalid(format!("{argument} is not a cursor of this list")))?;
        select = select.filter(beyond);
    }
    let direction = if ascending {
        SortOrder::Asc
    } else {
        SortOrder::Desc
    };
    if let Some(at) = order.at {
        select = select.order_by(at, direction.clone());
    }
    let mut rows = select
        .order_by(order.id, direction)
        .limit(size + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    if backwards {
        rows.reverse();
    }
    let rows = rows
        .into_iter()
        .map(|row| (cursors.encode((list.position)(&row)), row))
        .collect();
    let came_from_cursor = cursor.is_some();
    Ok(match backwards {
        false => Page {
            rows,
            has_previous: came_from_cursor,
            has_next: more,
        },
        true => Page {
            rows,
            has_previous: more,
            has_next: came_from_cursor,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn cursors(workspace_id: Uuid, list: &str) -> Cursors {
        let secrets = ServerSecrets {
            jwt_secret: SecretString::from("x".repeat(32)),
            secret_key: SecretString::from("y".repeat(32)),
        };
        Cursors::new(&secrets, ListId::new(workspace_id, list))
    }

    #[test]
    fn a_cursor_round_trips_to_the_nanosecond() {
        let list = cursors(Uuid::now_v7(), "messages");
        let at = DateTime::from_timestamp(1_763_000_000, 123_456_789).unwrap();
        for position in [
            Position::Id(Uuid::now_v7()),
            Position::At(at, Uuid::now_v7()),
        ] {
            let cursor = list.encode(position);
            assert_eq!(list.decode("after", &cursor).unwrap(), position);
        }
    }

    #[test]
    fn other_lists_workspaces_and_altered_cursors_are_refused() {
        let workspace = Uuid::now_v7();
        let list = cursors(workspace, "contacts?tag=vip");
        let cursor = list.encode(Position::Id(Uuid::now_v7()));
        let refused = |cursors: &Cursors, cursor: &str| {
            let error = cursors.decode("after", cursor).unwrap_err();
            assert_eq!(error.code(), "invalid_request");
        };
        refused(&cursors(Uuid::now_v7(), "contacts?tag=vip"), &cursor);
        refused(&cursors(workspace, "contacts?tag=new"), &cursor);
        refused(&cursors(workspace, "conversations"), &cursor);
        let mut altered = cursor.clone().into_bytes();
        altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
        refused(&list, &String::from_utf8(altered).unwrap());
        for garbage in ["", "not a cursor", "AAAA", &Uuid::now_v7().to_string()] {
            refused(&list, garbage);
        }
    }
}
