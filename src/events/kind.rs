//! The kinds of [`Event`](super::Event): what an outbound webhook endpoint subscribes to, with
//! the names its payloads carry and the bits of an endpoint's `event_mask`.

use async_graphql::Enum;

/// What an endpoint can subscribe to. Payloads spell them `message.received`, ….
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[graphql(name = "WebhookEventType")]
pub enum EventKind {
    /// An inbound message was stored.
    MessageReceived,
    /// A message's delivery status moved (sent, delivered, read, failed).
    MessageStatusUpdated,
    /// A send attempt was settled: accepted by WhatsApp or failed.
    SendAttemptUpdated,
    /// A conversation was opened (by a send or an inbound message).
    ConversationCreated,
    /// A contact was created (by a send, an inbound message or `upsertContact`).
    ContactCreated,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::MessageReceived,
        EventKind::MessageStatusUpdated,
        EventKind::SendAttemptUpdated,
        EventKind::ConversationCreated,
        EventKind::ContactCreated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::MessageReceived => "message.received",
            EventKind::MessageStatusUpdated => "message.status_updated",
            EventKind::SendAttemptUpdated => "send_attempt.updated",
            EventKind::ConversationCreated => "conversation.created",
            EventKind::ContactCreated => "contact.created",
        }
    }

    /// The kind's bit in an endpoint's `event_mask`.
    pub fn bit(self) -> i64 {
        1 << (self as u32)
    }

    pub fn mask_of(kinds: &[EventKind]) -> i64 {
        kinds.iter().fold(0, |mask, kind| mask | kind.bit())
    }

    pub fn in_mask(mask: i64) -> Vec<EventKind> {
        Self::ALL
            .into_iter()
            .filter(|kind| mask & kind.bit() != 0)
            .collect()
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_round_trip_through_masks_and_names() {
        let mask = EventKind::mask_of(&[EventKind::ContactCreated, EventKind::MessageReceived]);
        assert_eq!(
            EventKind::in_mask(mask),
            [EventKind::MessageReceived, EventKind::ContactCreated]
        );
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(EventKind::in_mask(kind.bit()), [kind]);
        }
        assert_eq!(EventKind::parse("message.deleted"), None);
    }
}
