//! A gap-free, ordered stream of one workspace's events for a subscriber.

use std::{collections::VecDeque, sync::Arc};

use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::broadcast::{Receiver, error::RecvError};
use uuid::Uuid;

use super::{EventBus, Item, Published, current_sequence, read_log};

/// Log entries read per round trip while catching up.
const BATCH: u64 = 256;

/// Follows a workspace's events from a point in its sequence: durable events come out in
/// sequence order, each once, whatever the bus dropped or delivered late (another process's
/// notification can arrive after a later local event); transient events come out as they arrive.
pub struct Follower {
    db: DatabaseConnection,
    workspace_id: Uuid,
    events: Receiver<Item>,
    /// The last sequence number handed out (or skipped as before the start).
    last: i64,
    ready: VecDeque<Arc<Published>>,
    /// The log may hold entries after `last` that the bus will not bring.
    behind: bool,
}

impl Follower {
    /// Follows from after `after`, or from now when `None`. Subscribes before reading where "now"
    /// is, so that nothing committed in between is lost.
    pub async fn start(
        db: DatabaseConnection,
        bus: &EventBus,
        workspace_id: Uuid,
        after: Option<i64>,
    ) -> Result<Self, DbErr> {
        let events = bus.subscribe();
        let now = current_sequence(&db, workspace_id).await?;
        // A number beyond the sequence (from a client's bad bookkeeping) means "from now".
        let (last, behind) = match after {
            Some(after) if after < now => (after.max(0), true),
            _ => (now, false),
        };
        Ok(Self {
            db,
            workspace_id,
            events,
            last,
            ready: VecDeque::new(),
            behind,
        })
    }

    /// The next event; `None` once the bus is gone (the server is stopping).
    pub async fn next(&mut self) -> Result<Option<Arc<Published>>, DbErr> {
        loop {
            if let Some(published) = self.ready.pop_front() {
                return Ok(Some(published));
            }
            if self.behind {
                // Boxed: an idle follower rests on `recv`, and should not carry a query's state.
                Box::pin(self.catch_up()).await?;
                continue;
            }
            match self.events.recv().await {
                Ok(Item::Event(published)) => {
                    if published.event.workspace_id() != self.workspace_id {
                        continue;
                    }
                    match published.sequence {
                        None => return Ok(Some(published)),
                        Some(sequence) if sequence <= self.last => {}
                        Some(sequence) if sequence == self.last + 1 => {
                            self.last = sequence;
                            return Ok(Some(published));
                        }
                        // Something before it was missed or is still on its way; it is in the
                        // log already (it was broadcast after its commit), and so is the rest.
                        Some(_) => self.behind = true,
                    }
                }
                Ok(Item::Resync) | Err(RecvError::Lagged(_)) => self.behind = true,
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }

    /// Reads the next batch of logged events after `last` into the ready queue; clears `behind`
    /// once the log has no more.
    async fn catch_up(&mut self) -> Result<(), DbErr> {
        let batch = read_log(&self.db, self.workspace_id, self.last, BATCH).await?;
        self.behind = batch.len() as u64 == BATCH;
        for published in batch {
            self.last = published.sequence.unwrap_or(self.last);
            self.ready.push_back(published);
        }
        Ok(())
    }
}
