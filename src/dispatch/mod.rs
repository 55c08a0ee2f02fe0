//! The dispatcher: delivers queued send attempts to WhatsApp, exactly as the send queue
//! (`crate::send_queue`, which owns every transition of an attempt) says, from any number of
//! processes sharing the database. This module is the worker loop and the request: it claims due
//! attempts, expires lost leases, sends (or lets the sandbox answer), and records the outcome
//! through the queue's transitions.
//!
//! At most once: Meta's send has no idempotency key, so an attempt whose request may have reached
//! Meta (a timeout after sending, a crash while SENDING, a lost lease) is never sent again; it
//! ends `delivery_unknown`, and a later status webhook for it turns it ACCEPTED.

mod deliver;
mod pair_rate;
mod sandbox;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use entity::send_attempt::{self, SendAttemptState};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{Notify, Semaphore, watch};
use uuid::Uuid;

use crate::{
    config::Config,
    db::ServerSecrets,
    events::{Event, EventBus, Item, UnitOfWork},
    send_queue,
    services::Services,
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
    pub fn new(services: &Services) -> anyhow::Result<Self> {
        let Services {
            db,
            events: bus,
            config,
            secrets,
        } = services.clone();
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

    /// Takes up to `limit` due attempts under this worker's lease.
    async fn claim(&self, limit: usize) -> Result<Vec<send_attempt::Model>, DbErr> {
        let now = Utc::now();
        let lease_until = now + chrono::Duration::milliseconds(self.lease_ms());
        send_queue::claim_due(&self.db, &self.worker, limit, lease_until, now).await
    }

    /// Ends the leases that ran out: those attempts' delivery is unknown.
    async fn expire_leases(&self) -> Result<(), DbErr> {
        let mut uow = UnitOfWork::begin(&self.db, &self.bus).await?;
        for attempt in send_queue::expire_leases(&mut uow, Utc::now()).await? {
            tracing::warn!(send_attempt_id = %attempt.id, "send lease expired: delivery unknown");
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
