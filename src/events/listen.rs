//! Postgres `LISTEN`: events recorded by other processes, broadcast in this one.

use std::time::Duration;

use sea_orm::DatabaseConnection;
use sqlx::postgres::PgListener;

use super::{CHANNEL, EventBus, Item, Notification, Published};

/// How long to wait before connecting again after the listener failed to.
const RETRY: Duration = Duration::from_secs(1);

/// Relays other processes' notifications to this process's bus, for as long as the task runs.
/// Does nothing on SQLite (one process per database file). Whenever the link was lost,
/// subscribers are told to read the log again, since notifications sent meanwhile are gone.
pub async fn listen(db: DatabaseConnection, bus: EventBus) {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return;
    }
    let pool = db.get_postgres_connection_pool().clone();
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = match connected.await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "listening for other processes' events failed; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        // Anything sent before LISTEN took effect is in the log.
        let _ = bus.sender.send(Item::Resync);
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => relay(&bus, notification.payload()),
                // The connection was lost; `try_recv` connects again on the next call.
                Ok(None) => {
                    let _ = bus.sender.send(Item::Resync);
                }
                Err(error) => {
                    tracing::warn!(%error, "the event listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

fn relay(bus: &EventBus, payload: &str) {
    match serde_json::from_str::<Notification>(payload) {
        Ok(notification) if notification.origin == bus.origin => {}
        Ok(notification) => {
            let _ = bus.sender.send(Item::Event(Published::new(
                Some(notification.sequence),
                notification.occurred_at,
                notification.event,
            )));
        }
        Err(error) => tracing::warn!(%error, "ignoring an event notification that does not parse"),
    }
}
