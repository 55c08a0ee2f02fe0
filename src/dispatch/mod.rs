//! The dispatcher: delivers queued send attempts to WhatsApp, exactly as the queue in the
//! `send_attempts` table says, from any number of processes sharing the database.
//!
//! Each state change is one UPDATE guarded by the state it expects:
//! - claim: QUEUED and due → SENDING under a lease (this worker, until a deadline) — one statement,
//!   `FOR UPDATE SKIP LOCKED` on Postgres, the single writer on SQLite;
//! - record: SENDING (still ours) → ACCEPTED | FAILED | QUEUED again for a retry;
//! - expire: SENDING past its lease → FAILED `delivery_unknown`.
//!
//! At most once: Meta's send has no idempotency key, so an attempt whose request may have reached
//! Meta (a timeout after sending, a crash while SENDING, a lost lease) is never sent again; it
//! ends `delivery_unknown`, and a later status webhook for it turns it ACCEPTED.

mod deliver;
mod pair_rate;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use entity::send_attempt::{self, SendAttemptState};
use sea_orm::{
    DatabaseConnection, DbErr, EntityTrait, Order,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query},
};
use tokio::sync::{Notify, Semaphore, watch};
use uuid::Uuid;

use crate::{
    config::Config,
    db::ServerSecrets,
    error::ErrorCode,
    events::{Event, EventBus, Item, UnitOfWork},
    whatsapp::client::CloudApiClient,
};

/// What the dispatcher works with.
pub struct Dispatcher {
    db: DatabaseConnection,
    bus: EventBus,
    secrets: Arc<ServerSecrets>,
    config: Arc<Config>,
    client: CloudApiClient,
    /// This process's name on the leases it takes.
    worker: String,
}

/// A running dispatcher; stop it with [`DispatcherHandle::stop`].
pub struct DispatcherHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl DispatcherHandle {
    /// Stops claiming, lets sends in flight finish (they would otherwise end `delivery_unknown`)
    /// for at most `grace`.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!("sends were still in flight when the grace period ended");
        }
    }
}

impl Dispatcher {
    pub fn new(
        db: DatabaseConnection,
        bus: EventBus,
        secrets: Arc<ServerSecrets>,
        config: Arc<Config>,
    ) -> anyhow::Result<Self> {
        let client = CloudApiClient::new(
            &config.graph_api_url,
            &config.graph_api_version,
            Duration::from_millis(config.graph_api_timeout_ms),
        )?;
        Ok(Self {
            db,
            bus,
            secrets,
            config,
            client,
            worker: format!("worker-{}", Uuid::now_v7().simple()),
        })
    }

    pub fn spawn(self) -> DispatcherHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(Arc::new(self).run(stopped));
        DispatcherHandle { stop, task }
    }

    async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(wake_on_new_sends(self.bus.clone(), wake.clone()));
        // A send holds an in-flight slot only while its request is with WhatsApp. Preparing it
        // (reads, the throughput and pair checks) and recording its outcome happen outside the
        // slot, for up to as many attempts again, so that this database work overlaps WhatsApp's
        // latency instead of adding to every send's turn.
        let in_flight = Arc::new(Semaphore::new(self.config.dispatch_concurrency));
        let pipeline = Arc::new(Semaphore::new(self.config.dispatch_concurrency * 2));
        let poll = Duration::from_millis(self.config.dispatch_poll_ms);
        let mut leases_checked: Option<Instant> = None;
        while !*stopped.borrow() {
            // Leases run for a minute, so once per poll interval is often enough; per claim it
            // would add a write (SQLite takes its lock even when nothing expires) to every send.
            if leases_checked.is_none_or(|at| at.elapsed() >= poll) {
                if let Err(error) = self.expire_leases().await {
                    tracing::warn!(%error, "expiring send leases failed");
                }
                leases_checked = Some(Instant::now());
            }
            let free = pipeline.available_permits();
            let claimed = match self.claim(free).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "claiming sends failed");
                    Vec::new()
                }
            };
            let busy = !claimed.is_empty() && claimed.len() == free;
            for attempt in claimed {
                let Ok(permit) = pipeline.clone().acquire_owned().await else {
                    break;
                };
                let dispatcher = self.clone();
                let in_flight = in_flight.clone();
                tokio::spawn(async move {
                    dispatcher.deliver(attempt, &in_flight).await;
                    drop(permit);
                });
            }
            if busy {
                // The pipeline is full: wait for room before claiming more.
                if let Ok(permit) = pipeline.acquire().await {
                    drop(permit);
                }
                continue;
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
                _ = stopped.changed() => {}
            }
        }
        listener.abort();
        // Wait for the sends claimed so far, in flight or not yet.
        let all = u32::try_from(self.config.dispatch_concurrency * 2).unwrap_or(u32::MAX);
        let _ = pipeline.acquire_many(all).await;
    }

    /// Takes up to `limit` due attempts: QUEUED → SENDING under this worker's lease.
    async fn claim(&self, limit: usize) -> Result<Vec<send_attempt::Model>, DbErr> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        let lease_until = now + chrono::Duration::milliseconds(self.lease_ms());
        let due = Query::select()
            .column(send_attempt::Column::Id)
            .from(send_attempt::Entity)
            .and_where(Expr::col(send_attempt::Column::State).eq(SendAttemptState::Queued))
            .and_where(Expr::col(send_attempt::Column::NextAttemptAt).lte(now))
            .order_by(send_attempt::Column::NextAttemptAt, Order::Asc)
            .limit(limit as u64)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let mut claim = Query::update();
        claim
            .table(send_attempt::Entity)
            .value(send_attempt::Column::State, SendAttemptState::Sending)
            .value(send_attempt::Column::LeaseOwner, self.worker.clone())
            .value(send_attempt::Column::LeaseExpiresAt, lease_until)
            .value(
                send_attempt::Column::Attempts,
                Expr::col(send_attempt::Column::Attempts).add(1),
            )
            .value(send_attempt::Column::UpdatedAt, now)
            .and_where(Expr::col(send_attempt::Column::Id).in_subquery(due))
            .and_where(Expr::col(send_attempt::Column::State).eq(SendAttemptState::Queued))
            .returning_all();
        let statement = self.db.get_database_backend().build(&claim);
        send_attempt::Entity::find()
            .from_raw_sql(statement)
            .all(&self.db)
            .await
    }

    /// SENDING past its lease → FAILED `delivery_unknown`: whoever held it may have reached Meta.
    async fn expire_leases(&self) -> Result<(), DbErr> {
        let now = Utc::now();
        let mut expire = Query::update();
        expire
            .table(send_attempt::Entity)
            .value(send_attempt::Column::State, SendAttemptState::Failed)
            .value(
                send_attempt::Column::ErrorCode,
                ErrorCode::DeliveryUnknown.as_str(),
            )
            .value(
                send_attempt::Column::ErrorMessage,
                "the request may have reached WhatsApp but no answer was recorded; it is not \
                 sent again, and a status from WhatsApp will resolve it",
            )
            .value(send_attempt::Column::LeaseOwner, Option::<String>::None)
            .value(send_attempt::Column::UpdatedAt, now)
            .and_where(Expr::col(send_attempt::Column::State).eq(SendAttemptState::Sending))
            .and_where(Expr::col(send_attempt::Column::LeaseExpiresAt).lt(now))
            .returning_all();
        let statement = self.db.get_database_backend().build(&expire);
        let mut uow = UnitOfWork::begin(&self.db, &self.bus).await?;
        let mut expired = send_attempt::Entity::find()
            .from_raw_sql(statement)
            .all(uow.txn())
            .await?;
        // Workspace rows are locked for their event numbers: always in one order.
        expired.sort_by_key(|attempt| (attempt.workspace_id, attempt.id));
        for attempt in expired {
            tracing::warn!(send_attempt_id = %attempt.id, "send lease expired: delivery unknown");
            uow.add(Event::SendAttemptUpdated {
                workspace_id: attempt.workspace_id,
                send_attempt_id: attempt.id,
                state: attempt.state,
            });
        }
        uow.commit().await
    }

    /// The shortest gap between two sends of one pair, or `None` when spacing is off.
    fn pair_spacing(&self) -> Option<chrono::Duration> {
        let gap = i64::try_from(self.config.pair_spacing_ms).ok()?;
        (gap > 0).then(|| chrono::Duration::milliseconds(gap))
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.config.dispatch_lease_ms).unwrap_or(i64::MAX / 2)
    }
}

/// Wakes the dispatcher when this process queues a send, so that it does not wait for the next
/// poll.
async fn wake_on_new_sends(bus: EventBus, wake: Arc<Notify>) {
    let mut events = bus.subscribe();
    loop {
        match events.recv().await {
            Ok(Item::Event(published))
                if matches!(
                    published.event,
                    Event::SendAttemptUpdated {
                        state: SendAttemptState::Queued,
                        ..
                    }
                ) =>
            {
                wake.notify_one();
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => wake.notify_one(),
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
