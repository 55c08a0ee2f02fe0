//! The sandbox sender's statuses: after it accepts a send (`whatsapp::sandbox::accept`), it
//! reports sent → delivered → read through the same status rules as Meta's webhooks
//! (`crate::message_status`). The statuses follow on timers in this process: a restart in
//! between skips the rest.

use std::time::Duration;

use chrono::Utc;
use entity::message::MessageStatus;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{
    error::AppError,
    events::{EventBus, UnitOfWork},
    message_status::{StatusUpdate, apply_status},
};

/// Reports sent, delivered and read for `wamid`, `step` apart.
pub(super) fn report_statuses(
    db: DatabaseConnection,
    bus: EventBus,
    sender_id: Uuid,
    wamid: String,
    step: Duration,
) {
    tokio::spawn(async move {
        for status in [
            MessageStatus::Sent,
            MessageStatus::Delivered,
            MessageStatus::Read,
        ] {
            tokio::time::sleep(step).await;
            let update = StatusUpdate {
                status,
                at: Utc::now(),
                error: None,
            };
            let applied = async {
                let mut uow = UnitOfWork::begin(&db, &bus).await?;
                apply_status(&mut uow, sender_id, &wamid, update).await?;
                Ok::<_, AppError>(uow.commit().await?)
            };
            if let Err(error) = applied.await {
                tracing::warn!(?error, "sandbox status not applied");
                return;
            }
        }
    });
}
