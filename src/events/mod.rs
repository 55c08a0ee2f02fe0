//! The event bus: state changes that requests and subscribers wait on (a send attempt accepted or
//! failed, …). In-process broadcast for now; Postgres LISTEN/NOTIFY joins processes later.

use std::time::Duration;

use entity::{message::MessageStatus, send_attempt, send_attempt::SendAttemptState};
use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::error::AppError;

/// Events kept for slow receivers before they start missing some (and re-read the database).
const CAPACITY: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    SendAttemptUpdated {
        workspace_id: Uuid,
        send_attempt_id: Uuid,
        state: SendAttemptState,
    },
    MessageStatusChanged {
        workspace_id: Uuid,
        message_id: Uuid,
        conversation_id: Uuid,
        status: MessageStatus,
        previous_status: MessageStatus,
    },
    MessageReceived {
        workspace_id: Uuid,
        message_id: Uuid,
        conversation_id: Uuid,
    },
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl EventBus {
    /// Tells every current subscriber; nobody listening is fine.
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

fn is_settled(state: SendAttemptState) -> bool {
    matches!(state, SendAttemptState::Accepted | SendAttemptState::Failed)
}

/// The attempt once WhatsApp accepted or refused it, or as it stands after `timeout`. Listens on
/// the bus before reading the row, so that a change in between is not missed; reads the row
/// again only when told something changed (or when it fell behind on the bus).
pub async fn wait_until_settled(
    db: &DatabaseConnection,
    bus: &EventBus,
    attempt_id: Uuid,
    timeout: Duration,
) -> Result<send_attempt::Model, AppError> {
    let mut events = bus.subscribe();
    let read = || async {
        send_attempt::Entity::find_by_id(attempt_id)
            .one(db)
            .await?
            .ok_or_else(|| AppError::not_found("send attempt"))
    };
    let mut attempt = read().await?;
    let deadline = tokio::time::Instant::now() + timeout;
    while !is_settled(attempt.state) {
        let changed = match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_elapsed) => break,
            Ok(Ok(Event::SendAttemptUpdated {
                send_attempt_id,
                state,
                ..
            })) => send_attempt_id == attempt_id && is_settled(state),
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => true,
            Ok(Ok(Event::MessageStatusChanged { .. } | Event::MessageReceived { .. })) => false,
            Ok(Err(broadcast::error::RecvError::Closed)) => break,
        };
        if changed {
            attempt = read().await?;
        }
    }
    Ok(attempt)
}
