//! Subscriptions: live delivery statuses, inbound messages and send-attempt changes of the
//! subscriber's workspace, over the websocket on `/graphql`.
//!
//! Every durable event carries its workspace's sequence number. A client that reconnects passes
//! the last number it saw as `after` and first receives what it missed (from the event log,
//! kept for seven days), then live events, in order and each once.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, stream};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{
    auth::Scope,
    error::AppError,
    events::{Event, EventBus, Follower, Published},
    graphql::{
        guard::{RequireAnyScope, RequireScope, principal},
        object::{Message, MessageStatus, SendAttempt},
        parse_id,
    },
};

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// A message's delivery status moved (SENT, DELIVERED, READ, FAILED), optionally only in one
    /// conversation or for one message (scope `messages:read`).
    #[graphql(guard = "RequireScope(Scope::MessagesRead)")]
    async fn message_status_changed(
        &self,
        ctx: &Context<'_>,
        conversation_id: Option<ID>,
        message_id: Option<ID>,
        #[graphql(desc = "Replay from after this sequence number first (a reconnecting client).")]
        after: Option<i64>,
    ) -> Result<impl Stream<Item = Result<MessageStatusEvent>> + use<>> {
        let conversation = parse_filter(conversation_id.as_ref(), "conversation")?;
        let message = parse_filter(message_id.as_ref(), "message")?;
        let (db, follower) = follow(ctx, after).await?;
        Ok(events(follower, move |published| {
            let db = db.clone();
            async move {
                let Event::MessageStatusChanged {
                    message_id,
                    conversation_id,
                    status,
                    previous_status,
                    ..
                } = published.event
                else {
                    return Ok(None);
                };
                if !matches_filter(conversation, conversation_id)
                    || !matches_filter(message, message_id)
                {
                    return Ok(None);
                }
                Ok(published
                    .message(&db)
                    .await?
                    .map(|message| MessageStatusEvent {
                        message: Message(message),
                        status: status.into(),
                        previous_status: previous_status.into(),
                        occurred_at: published.occurred_at,
                        sequence: published.sequence,
                    }))
            }
        }))
    }

    /// An inbound message arrived, optionally only in one conversation (scope `messages:read`).
    #[graphql(guard = "RequireScope(Scope::MessagesRead)")]
    async fn message_received(
        &self,
        ctx: &Context<'_>,
        conversation_id: Option<ID>,
        #[graphql(desc = "Replay from after this sequence number first (a reconnecting client).")]
        after: Option<i64>,
    ) -> Result<impl Stream<Item = Result<Message>> + use<>> {
        let conversation = parse_filter(conversation_id.as_ref(), "conversation")?;
        let (db, follower) = follow(ctx, after).await?;
        Ok(events(follower, move |published| {
            let db = db.clone();
            async move {
                let Event::MessageReceived {
                    conversation_id, ..
                } = published.event
                else {
                    return Ok(None);
                };
                if !matches_filter(conversation, conversation_id) {
                    return Ok(None);
                }
                Ok(published.message(&db).await?.map(Message))
            }
        }))
    }

    /// A send attempt changed state (QUEUED, SENDING, ACCEPTED, FAILED), optionally only one
    /// attempt (scope `messages:send` or `messages:read`).
    #[graphql(guard = "RequireAnyScope(&[Scope::MessagesSend, Scope::MessagesRead])")]
    async fn send_attempt_updated(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        #[graphql(desc = "Replay from after this sequence number first (a reconnecting client).")]
        after: Option<i64>,
    ) -> Result<impl Stream<Item = Result<SendAttempt>> + use<>> {
        let attempt = parse_filter(id.as_ref(), "send attempt")?;
        let (db, follower) = follow(ctx, after).await?;
        Ok(events(follower, move |published| {
            let db = db.clone();
            async move {
                let Event::SendAttemptUpdated {
                    send_attempt_id, ..
                } = published.event
                else {
                    return Ok(None);
                };
                if !matches_filter(attempt, send_attempt_id) {
                    return Ok(None);
                }
                Ok(published.send_attempt(&db).await?.map(SendAttempt))
            }
        }))
    }

    /// Every durable event of the workspace, numbered: what a client stores to resume with
    /// `after` (scope `messages:read`).
    #[graphql(guard = "RequireScope(Scope::MessagesRead)")]
    async fn workspace_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Replay from after this sequence number first (a reconnecting client).")]
        after: Option<i64>,
    ) -> Result<impl Stream<Item = Result<WorkspaceEvent>> + use<>> {
        let (db, follower) = follow(ctx, after).await?;
        Ok(events(follower, move |published| {
            let db = db.clone();
            async move {
                // Only numbered events are the workspace's events.
                let kind = match published.event {
                    _ if published.sequence.is_none() => return Ok(None),
                    Event::MessageStatusChanged { .. } => WorkspaceEventKind::MessageStatusChanged,
                    Event::MessageReceived { .. } => WorkspaceEventKind::MessageReceived,
                    Event::SendAttemptUpdated { .. } => WorkspaceEventKind::SendAttemptUpdated,
                    // Outbound webhooks only: never numbered, logged or broadcast.
                    Event::ContactCreated { .. } | Event::ConversationCreated { .. } => {
                        return Ok(None);
                    }
                };
                Ok(Some(WorkspaceEvent {
                    published,
                    kind,
                    db,
                }))
            }
        }))
    }
}

/// A status change of a message.
pub struct MessageStatusEvent {
    message: Message,
    status: MessageStatus,
    previous_status: MessageStatus,
    occurred_at: DateTime<Utc>,
    sequence: Option<i64>,
}

#[Object]
impl MessageStatusEvent {
    async fn message(&self) -> &Message {
        &self.message
    }

    async fn status(&self) -> MessageStatus {
        self.status
    }

    async fn previous_status(&self) -> MessageStatus {
        self.previous_status
    }

    async fn occurred_at(&self) -> DateTime<Utc> {
        self.occurred_at
    }

    /// The event's number in the workspace's sequence (pass it as `after` to resume).
    async fn sequence(&self) -> Option<i64> {
        self.sequence
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum WorkspaceEventKind {
    MessageStatusChanged,
    MessageReceived,
    SendAttemptUpdated,
}

/// One numbered event of the workspace; `message` or `sendAttempt` names what it is about.
pub struct WorkspaceEvent {
    published: Arc<Published>,
    kind: WorkspaceEventKind,
    db: DatabaseConnection,
}

#[Object]
impl WorkspaceEvent {
    async fn sequence(&self) -> i64 {
        self.published.sequence.unwrap_or_default()
    }

    async fn kind(&self) -> WorkspaceEventKind {
        self.kind
    }

    async fn occurred_at(&self) -> DateTime<Utc> {
        self.published.occurred_at
    }

    /// For status changes: the status reached.
    async fn status(&self) -> Option<MessageStatus> {
        match self.published.event {
            Event::MessageStatusChanged { status, .. } => Some(status.into()),
            _ => None,
        }
    }

    /// For status changes: the status before.
    async fn previous_status(&self) -> Option<MessageStatus> {
        match self.published.event {
            Event::MessageStatusChanged {
                previous_status, ..
            } => Some(previous_status.into()),
            _ => None,
        }
    }

    async fn message(&self) -> Result<Option<Message>> {
        Ok(self
            .published
            .message(&self.db)
            .await
            .map_err(AppError::from)?
            .map(Message))
    }

    async fn send_attempt(&self) -> Result<Option<SendAttempt>> {
        Ok(self
            .published
            .send_attempt(&self.db)
            .await
            .map_err(AppError::from)?
            .map(SendAttempt))
    }
}

fn parse_filter(id: Option<&ID>, what: &str) -> Result<Option<Uuid>, AppError> {
    id.map(|id| parse_id(id, what)).transpose()
}

fn matches_filter(filter: Option<Uuid>, id: Uuid) -> bool {
    filter.is_none_or(|filter| filter == id)
}

/// A follower of the subscriber's workspace, from `after` or from now.
async fn follow(
    ctx: &Context<'_>,
    after: Option<i64>,
) -> Result<(DatabaseConnection, Follower), AppError> {
    let workspace_id = principal(ctx)?.workspace_id;
    let db = ctx
        .data::<DatabaseConnection>()
        .map_err(|_| anyhow::anyhow!("the schema has no database"))?
        .clone();
    let bus = ctx
        .data::<EventBus>()
        .map_err(|_| anyhow::anyhow!("the schema has no event bus"))?;
    let follower = Follower::start(db.clone(), bus, workspace_id, after).await?;
    Ok((db, follower))
}

/// The follower's events that `pick` turns into items, until the bus closes or a read fails
/// (the error is the stream's last item).
fn events<T, F, Fut>(follower: Follower, pick: F) -> impl Stream<Item = Result<T>>
where
    F: Fn(Arc<Published>) -> Fut,
    Fut: Future<Output = Result<Option<T>, AppError>>,
{
    stream::unfold(Some((follower, pick)), |state| async move {
        let (mut follower, pick) = state?;
        loop {
            // The resolution is boxed so that a waiting subscription (most of them, most of the
            // time) holds only the follower's small wait, not a query's state.
            let item = match follower.next().await {
                Ok(Some(published)) => Box::pin(pick(published)).await,
                Ok(None) => return None,
                Err(error) => Err(AppError::from(error)),
            };
            match item {
                Ok(Some(item)) => return Some((Ok(item), Some((follower, pick)))),
                Ok(None) => {}
                Err(error) => return Some((Err(error.into()), None)),
            }
        }
    })
}
