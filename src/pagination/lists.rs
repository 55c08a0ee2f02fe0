//! The lists pages are read from, each with the order its index has and where a row stands in
//! it: shared by the GraphQL connections and the REST pages over the same rows, so that both walk
//! the same index.

use entity::{contact, conversation, message};
use sea_orm::EntityTrait;
use uuid::Uuid;

use super::{Order, Position};

/// Where a row stands in its list.
pub type PositionOf<M> = Box<dyn Fn(&M) -> Position + Send + Sync>;

/// A list: its name with its filters (what its cursors are signed for), its order, and where a
/// row stands in it.
pub struct List<E: EntityTrait> {
    pub name: String,
    pub order: Order<E>,
    pub position: PositionOf<E::Model>,
}

impl<E: EntityTrait> List<E> {
    /// The rows of a table in id order (UUID v7: oldest first); the list is named after the table.
    pub fn by_id(id: E::Column, id_of: impl Fn(&E::Model) -> Uuid + Send + Sync + 'static) -> Self {
        Self {
            name: E::default().table_name().to_owned(),
            order: Order::by_id(id),
            position: Box::new(move |row| Position::Id(id_of(row))),
        }
    }

    /// The same list walked the other way.
    pub fn newest_first(mut self) -> Self {
        self.order.descending = !self.order.descending;
        self
    }
}

/// Contacts oldest first, as the `(workspace, created_at, id)` index has them: a sync that walks
/// the list finds contacts created meanwhile at its end.
pub fn contacts(name: String) -> List<contact::Entity> {
    List {
        name,
        order: Order {
            at: Some(contact::Column::CreatedAt),
            id: contact::Column::Id,
            descending: false,
        },
        position: Box::new(|contact| Position::At(contact.created_at, contact.id)),
    }
}

/// The inbox: the most recently active first, as the `(workspace, last_message_at, id)` indexes
/// have them.
pub fn conversations(name: String) -> List<conversation::Entity> {
    List {
        name,
        order: Order {
            at: Some(conversation::Column::LastMessageAt),
            id: conversation::Column::Id,
            descending: true,
        },
        position: Box::new(|conversation| {
            Position::At(conversation.last_message_at, conversation.id)
        }),
    }
}

/// Messages in the order they were written, as the `(conversation, created_at, id)` index has them.
pub fn messages(name: String) -> List<message::Entity> {
    List {
        name,
        order: Order {
            at: Some(message::Column::CreatedAt),
            id: message::Column::Id,
            descending: false,
        },
        position: Box::new(|message| Position::At(message.created_at, message.id)),
    }
}
