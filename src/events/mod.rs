//! The event bus: state changes that subscribers and waiting requests hear about.
//!
//! Durable events (a status applied, a message received, a send attempt settled) are *recorded*
//! in the transaction that makes the change: they take the next number of their workspace's
//! sequence and a row in `workspace_events`. Numbers are handed out under the workspace row's
//! lock, so sequence order is commit order and a gap means "missed", never "not yet committed".
//! After the commit they are broadcast in this process; on Postgres they also travel to other
//! processes by `NOTIFY` (sent at commit, dropped on rollback). A [`Follower`] turns that into a
//! gap-free stream per workspace: it reads anything it missed back from the table.
//!
//! Transient events (a send queued, an attempt claimed) are broadcast in this process only and
//! carry no number.
//!
//! Events are produced in a [`UnitOfWork`] and recorded when it commits. Recording an event also
//! queues it for the workspace's outbound webhook endpoints that subscribed to its [`EventKind`],
//! in the same transaction ([`outbox`]); a contact or conversation created is queued there only
//! (it is not numbered, and subscribers do not hear of it). `crate::outbound` delivers what the
//! outbox holds.

mod follow;
mod kind;
mod listen;
mod outbox;
mod unit_of_work;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use entity::{
    contact, conversation,
    message::{self, MessageStatus},
    send_attempt::{self, SendAttemptState},
    workspace, workspace_event,
};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    Statement,
    sea_query::{Expr, ExprTrait, Query},
};
use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, broadcast};
use uuid::Uuid;

pub use follow::Follower;
pub use kind::EventKind;
pub use listen::listen;
pub use unit_of_work::UnitOfWork;

use crate::error::AppError;

/// Items kept for slow receivers before they start missing some (and read them back).
const CAPACITY: usize = 4096;

/// The Postgres channel events travel on between processes.
const CHANNEL: &str = "parley_events";

/// Something that happened in a workspace: the one type subscribers and outbound webhooks hear
/// about, each kind an [`EventKind`]. As serialised, it is the log's payload and `NOTIFY`'s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    #[serde(rename_all = "camelCase")]
    SendAttemptUpdated {
        workspace_id: Uuid,
        send_attempt_id: Uuid,
        state: SendAttemptState,
    },
    #[serde(rename_all = "camelCase")]
    MessageStatusChanged {
        workspace_id: Uuid,
        message_id: Uuid,
        conversation_id: Uuid,
        status: MessageStatus,
        previous_status: MessageStatus,
    },
    #[serde(rename_all = "camelCase")]
    MessageReceived {
        workspace_id: Uuid,
        message_id: Uuid,
        conversation_id: Uuid,
    },
    /// For outbound webhooks only: never numbered, logged or broadcast.
    #[serde(skip)]
    ContactCreated { contact: contact::Model },
    /// For outbound webhooks only: never numbered, logged or broadcast.
    #[serde(skip)]
    ConversationCreated { conversation: conversation::Model },
}

impl Event {
    pub fn workspace_id(&self) -> Uuid {
        match self {
            Self::SendAttemptUpdated { workspace_id, .. }
            | Self::MessageStatusChanged { workspace_id, .. }
            | Self::MessageReceived { workspace_id, .. } => *workspace_id,
            Self::ContactCreated { contact } => contact.workspace_id,
            Self::ConversationCreated { conversation } => conversation.workspace_id,
        }
    }

    pub fn kind(&self) -> EventKind {
        match self {
            Self::SendAttemptUpdated { .. } => EventKind::SendAttemptUpdated,
            Self::MessageStatusChanged { .. } => EventKind::MessageStatusUpdated,
            Self::MessageReceived { .. } => EventKind::MessageReceived,
            Self::ContactCreated { .. } => EventKind::ContactCreated,
            Self::ConversationCreated { .. } => EventKind::ConversationCreated,
        }
    }

    /// Whether recording it gives it a number of its workspace's sequence (and a log row, and a
    /// notification); the others only reach outbound webhooks.
    fn is_numbered(&self) -> bool {
        !matches!(
            self,
            Self::ContactCreated { .. } | Self::ConversationCreated { .. }
        )
    }
}

/// An event as subscribers receive it. The rows it names are loaded at most once per process,
/// however many subscribers resolve them.
#[derive(Debug)]
pub struct Published {
    /// The workspace's sequence number; `None` for a transient event.
    pub sequence: Option<i64>,
    pub occurred_at: DateTime<Utc>,
    pub event: Event,
    message: OnceCell<Option<message::Model>>,
    send_attempt: OnceCell<Option<send_attempt::Model>>,
}

impl Published {
    fn new(sequence: Option<i64>, occurred_at: DateTime<Utc>, event: Event) -> Arc<Self> {
        Arc::new(Self {
            sequence,
            occurred_at,
            event,
            message: OnceCell::new(),
            send_attempt: OnceCell::new(),
        })
    }

    /// The message the event names, as it is now.
    pub async fn message(&self, db: &DatabaseConnection) -> Result<Option<message::Model>, DbErr> {
        let id = match self.event {
            Event::MessageStatusChanged { message_id, .. }
            | Event::MessageReceived { message_id, .. } => message_id,
            Event::SendAttemptUpdated { .. }
            | Event::ContactCreated { .. }
            | Event::ConversationCreated { .. } => return Ok(None),
        };
        self.message
            .get_or_try_init(|| message::Entity::find_by_id(id).one(db))
            .await
            .cloned()
    }

    /// The send attempt the event names, as it is now.
    pub async fn send_attempt(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Option<send_attempt::Model>, DbErr> {
        let Event::SendAttemptUpdated {
            send_attempt_id, ..
        } = self.event
        else {
            return Ok(None);
        };
        self.send_attempt
            .get_or_try_init(|| send_attempt::Entity::find_by_id(send_attempt_id).one(db))
            .await
            .cloned()
    }
}

/// What the bus carries.
#[derive(Clone, Debug)]
pub enum Item {
    Event(Arc<Published>),
    /// Events may have been missed (the link to Postgres was lost): read the log again.
    Resync,
}

/// A durable event recorded in a transaction, to be broadcast once that commits.
#[must_use = "broadcast it with EventBus::committed after the commit"]
struct Recorded(Arc<Published>);

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Item>,
    /// Tells this bus's own notifications apart from other processes'.
    origin: Uuid,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            origin: Uuid::new_v4(),
        }
    }
}

/// What `NOTIFY` carries: small enough for Postgres's 8000-byte limit whatever the event.
#[derive(Serialize, Deserialize)]
struct Notification {
    origin: Uuid,
    sequence: i64,
    occurred_at: DateTime<Utc>,
    event: Event,
}

impl EventBus {
    /// Tells this process's current subscribers of a transient event; nobody listening is fine.
    pub fn publish(&self, event: Event) {
        let _ = self
            .sender
            .send(Item::Event(Published::new(None, Utc::now(), event)));
    }

    /// Broadcasts events recorded in a transaction that has committed.
    fn committed(&self, recorded: impl IntoIterator<Item = Recorded>) {
        for Recorded(published) in recorded {
            let _ = self.sender.send(Item::Event(published));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Item> {
        self.sender.subscribe()
    }

    /// Records `events` in `txn`, in their order, with a handful of statements per workspace
    /// whatever their number: the numbered ones take the next numbers of their workspace's
    /// sequence (one statement), rows in the log (one) and on Postgres notifications that other
    /// processes receive if the transaction commits (one); all are queued for the workspace's
    /// outbound webhook endpoints. Taking the numbers locks the workspace's row until the commit,
    /// so events are recorded last (see [`UnitOfWork::commit`]).
    async fn record_all(
        &self,
        txn: &DatabaseTransaction,
        events: Vec<Event>,
    ) -> Result<Vec<Recorded>, DbErr> {
        let mut workspaces: Vec<Uuid> = Vec::new();
        for event in &events {
            if !workspaces.contains(&event.workspace_id()) {
                workspaces.push(event.workspace_id());
            }
        }
        let occurred_at = Utc::now();
        let mut recorded = Vec::with_capacity(events.len());
        for workspace_id in workspaces {
            let events: Vec<&Event> = events
                .iter()
                .filter(|event| event.workspace_id() == workspace_id)
                .collect();
            let numbered: Vec<&Event> = events
                .iter()
                .copied()
                .filter(|event| event.is_numbered())
                .collect();
            let numbered: Vec<(i64, &Event)> = if numbered.is_empty() {
                Vec::new()
            } else {
                let count = i64::try_from(numbered.len()).unwrap_or(i64::MAX);
                let last = take_numbers(txn, workspace_id, count).await?;
                (last - count + 1..).zip(numbered).collect()
            };
            self.log(txn, workspace_id, &events, &numbered, occurred_at)
                .await?;
            recorded.extend(numbered.into_iter().map(|(sequence, event)| {
                Recorded(Published::new(Some(sequence), occurred_at, event.clone()))
            }));
        }
        Ok(recorded)
    }

    /// Writes numbered events of one workspace to the log, queues all its `events` for its
    /// outbound webhook endpoints, and on Postgres notifies other processes of the numbered ones.
    async fn log(
        &self,
        txn: &DatabaseTransaction,
        workspace_id: Uuid,
        events: &[&Event],
        numbered: &[(i64, &Event)],
        occurred_at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        if !numbered.is_empty() {
            let rows = numbered.iter().map(|(sequence, event)| {
                let payload =
                    serde_json::to_value(event).map_err(|error| DbErr::Json(error.to_string()))?;
                Ok(workspace_event::ActiveModel {
                    workspace_id: Set(workspace_id),
                    sequence: Set(*sequence),
                    payload: Set(payload),
                    created_at: Set(occurred_at),
                })
            });
            workspace_event::Entity::insert_many(rows.collect::<Result<Vec<_>, DbErr>>()?)
                .exec_without_returning(txn)
                .await?;
        }
        // The workspace's outbound webhook endpoints hear about them in the same transaction.
        let endpoints = outbox::endpoints(txn, workspace_id).await?;
        if !endpoints.is_empty() {
            for event in events {
                outbox::enqueue(txn, &endpoints, event, occurred_at).await?;
            }
        }
        let backend = txn.get_database_backend();
        if backend != DatabaseBackend::Postgres || numbered.is_empty() {
            return Ok(());
        }
        let mut values = vec![CHANNEL.into()];
        for (sequence, event) in numbered {
            let notification = serde_json::to_string(&Notification {
                origin: self.origin,
                sequence: *sequence,
                occurred_at,
                event: (*event).clone(),
            })
            .map_err(|error| DbErr::Json(error.to_string()))?;
            values.push(notification.into());
        }
        let calls: Vec<String> = (2..=values.len())
            .map(|place| format!("pg_notify($1, ${place})"))
            .collect();
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT {}", calls.join(", ")),
            values,
        ))
        .await?;
        Ok(())
    }
}

/// Takes the next `count` numbers of the workspace's sequence, locking its row until the
/// transaction ends; returns the last of them.
async fn take_numbers(
    txn: &DatabaseTransaction,
    workspace_id: Uuid,
    count: i64,
) -> Result<i64, DbErr> {
    let mut next = Query::update()
        .table(workspace::Entity)
        .value(
            workspace::Column::EventSequence,
            Expr::col(workspace::Column::EventSequence).add(count),
        )
        .and_where(Expr::col(workspace::Column::Id).eq(workspace_id))
        .to_owned();
    next.returning_col(workspace::Column::EventSequence);
    txn.query_one(&next)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the event's workspace".into()))?
        .try_get_by_index(0)
}

/// The workspace's events after `after`, oldest first, at most `limit`.
pub async fn read_log(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    after: i64,
    limit: u64,
) -> Result<Vec<Arc<Published>>, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    let rows = workspace_event::Entity::find()
        .filter(workspace_event::Column::WorkspaceId.eq(workspace_id))
        .filter(workspace_event::Column::Sequence.gt(after))
        .order_by_asc(workspace_event::Column::Sequence)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let event = serde_json::from_value(row.payload)
                .map_err(|error| DbErr::Json(error.to_string()))?;
            Ok(Published::new(Some(row.sequence), row.created_at, event))
        })
        .collect()
}

/// The last number the workspace's sequence gave out.
pub async fn current_sequence(db: &DatabaseConnection, workspace_id: Uuid) -> Result<i64, DbErr> {
    Ok(workspace::Entity::find_by_id(workspace_id)
        .one(db)
        .await?
        .map_or(0, |workspace| workspace.event_sequence))
}

/// Deletes log entries older than `retention`; a subscriber asking for older ones gets what is
/// left.
pub async fn prune(db: &DatabaseConnection, retention: Duration) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let cutoff =
        Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    Ok(workspace_event::Entity::delete_many()
        .filter(workspace_event::Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}

fn is_settled(state: SendAttemptState) -> bool {
    matches!(state, SendAttemptState::Accepted | SendAttemptState::Failed)
}

/// The attempt once WhatsApp accepted or refused it, or as it stands after `timeout`. Listens on
/// the bus before reading the row, so that a change in between is not missed; reads the row
/// again only when told something changed (or when it may have missed something). Settling is a
/// durable event, so this hears attempts dispatched by another process on the same Postgres.
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
            Ok(Ok(Item::Event(published))) => matches!(
                published.event,
                Event::SendAttemptUpdated { send_attempt_id, state, .. }
                    if send_attempt_id == attempt_id && is_settled(state)
            ),
            Ok(Ok(Item::Resync) | Err(broadcast::error::RecvError::Lagged(_))) => true,
            Ok(Err(broadcast::error::RecvError::Closed)) => break,
        };
        if changed {
            attempt = read().await?;
        }
    }
    Ok(attempt)
}
