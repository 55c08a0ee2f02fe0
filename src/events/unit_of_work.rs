//! The unit of work: one write transaction, the events it produces and what runs once it
//! commits. Whatever changes state takes `&mut UnitOfWork` and adds its events as it goes; the
//! caller that began the unit commits it, so a change runs alone or as part of a larger one with
//! the same code.
//!
//! Committing records the events last (their numbers lock the workspace's row until the commit,
//! so every other row is locked first), commits, then publishes them to this process's
//! subscribers and runs the after-commit actions in the order they were added.

use std::{future::Future, sync::Mutex};

use futures_util::future::BoxFuture;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};

use super::{Event, EventBus};
use crate::db;

/// A write transaction with its events and after-commit actions; see the module doc.
#[must_use = "commit it, or drop it to roll back"]
pub struct UnitOfWork<'a> {
    db: &'a DatabaseConnection,
    bus: &'a EventBus,
    txn: DatabaseTransaction,
    /// Open savepoints, innermost last, each with how many events were added before it.
    savepoints: Vec<(DatabaseTransaction, usize)>,
    events: Vec<Event>,
    /// In a mutex only so that the unit is `Sync` (a `&UnitOfWork` is held across awaits in
    /// spawned tasks); it is only ever reached through `&mut self`, so never locked.
    after_commit: Mutex<Vec<BoxFuture<'a, ()>>>,
}

impl<'a> UnitOfWork<'a> {
    /// Begins a unit in a write transaction (see [`db::begin_write`]).
    pub async fn begin(db: &'a DatabaseConnection, bus: &'a EventBus) -> Result<Self, DbErr> {
        Ok(Self::new(db, bus, db::begin_write(db).await?))
    }

    /// Begins a unit whose commit may be lost in a database crash because the work is done again
    /// (see [`db::begin_redoable`]).
    pub async fn begin_redoable(
        db: &'a DatabaseConnection,
        bus: &'a EventBus,
    ) -> Result<Self, DbErr> {
        Ok(Self::new(db, bus, db::begin_redoable(db).await?))
    }

    fn new(db: &'a DatabaseConnection, bus: &'a EventBus, txn: DatabaseTransaction) -> Self {
        Self {
            db,
            bus,
            txn,
            savepoints: Vec::new(),
            events: Vec::new(),
            after_commit: Mutex::default(),
        }
    }

    /// The transaction to read and write in (the innermost savepoint, if one is open).
    pub fn txn(&self) -> &DatabaseTransaction {
        self.savepoints.last().map_or(&self.txn, |(txn, _)| txn)
    }

    /// The database, for after-commit actions (which run outside the transaction).
    pub fn db(&self) -> &'a DatabaseConnection {
        self.db
    }

    pub fn bus(&self) -> &'a EventBus {
        self.bus
    }

    /// Adds `event`, to be recorded when the unit commits.
    pub fn add(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Runs `action` once the unit has committed and its events are published; never if it
    /// does not commit.
    pub fn after_commit(&mut self, action: impl Future<Output = ()> + Send + 'a) {
        let actions = self.after_commit.get_mut();
        actions
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Box::pin(action));
    }

    /// Opens a savepoint: [`rollback_savepoint`](Self::rollback_savepoint) undoes what was
    /// written and added after it, and nothing before.
    pub async fn savepoint(&mut self) -> Result<(), DbErr> {
        let nested = self.txn().begin().await?;
        self.savepoints.push((nested, self.events.len()));
        Ok(())
    }

    /// Keeps what was done since the innermost savepoint, as part of the unit.
    pub async fn release_savepoint(&mut self) -> Result<(), DbErr> {
        if let Some((nested, _)) = self.savepoints.pop() {
            nested.commit().await?;
        }
        Ok(())
    }

    /// Undoes what was written and added since the innermost savepoint.
    pub async fn rollback_savepoint(&mut self) -> Result<(), DbErr> {
        if let Some((nested, events)) = self.savepoints.pop() {
            self.events.truncate(events);
            nested.rollback().await?;
        }
        Ok(())
    }

    /// Records the events, commits, publishes them and runs the after-commit actions.
    pub async fn commit(mut self) -> Result<(), DbErr> {
        while !self.savepoints.is_empty() {
            self.release_savepoint().await?;
        }
        let recorded = self.bus.record_all(&self.txn, self.events).await?;
        self.txn.commit().await?;
        self.bus.committed(recorded);
        let actions = self.after_commit.into_inner();
        for action in actions.unwrap_or_else(|poisoned| poisoned.into_inner()) {
            action.await;
        }
        Ok(())
    }
}

/// Events added in bulk (a pure function can gather them in a `Vec` or straight into a unit).
impl Extend<Event> for UnitOfWork<'_> {
    fn extend<I: IntoIterator<Item = Event>>(&mut self, events: I) {
        self.events.extend(events);
    }
}
