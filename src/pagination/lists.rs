//! The order each list is read in, and where a row stands in it: shared by the GraphQL
//! connections and the REST pages over the same rows, so that both walk the same index.

use entity::{contact, conversation, message};

use super::{Order, Position};

/// Contacts oldest first, as the `(workspace, created_at, id)` index has them: a sync that walks
/// the list finds contacts created meanwhile at its end.
pub fn contact_order() -> Order<contact::Entity> {
    Order {
        at: Some(contact::Column::CreatedAt),
        id: contact::Column::Id,
        descending: false,
    }
}

pub fn contact_position(contact: &contact::Model) -> Position {
    Position::At(contact.created_at, contact.id)
}

/// The inbox: the most recently active first, as the `(workspace, last_message_at, id)` indexes
/// have them.
pub fn conversation_order() -> Order<conversation::Entity> {
    Order {
        at: Some(conversation::Column::LastMessageAt),
        id: conversation::Column::Id,
        descending: true,
    }
}

pub fn conversation_position(conversation: &conversation::Model) -> Position {
    Position::At(conversation.last_message_at, conversation.id)
}

/// Messages in the order they were written, as the `(conversation, created_at, id)` index has them.
pub fn message_order() -> Order<message::Entity> {
    Order {
        at: Some(message::Column::CreatedAt),
        id: message::Column::Id,
        descending: false,
    }
}

pub fn message_position(message: &message::Model) -> Position {
    Position::At(message.created_at, message.id)
}
