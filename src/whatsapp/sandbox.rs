//! The sandbox sender: WhatsApp simulated, so that a new user sees the whole flow with no Meta
//! account. It accepts like Meta would — except for numbers ending in `0000`, which are "not on
//! WhatsApp" — and then reports sent → delivered → read through the same status code the webhooks
//! use. The statuses follow on timers in this process: a restart in between skips the rest.

use std::time::Duration;

use chrono::Utc;
use entity::message::MessageStatus;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{
    error::AppError,
    events::{EventBus, UnitOfWork},
    webhooks::status::{StatusUpdate, apply_status},
};

/// What the sandbox answers a send to `to` (digits).
pub fn accept(to: &str) -> Result<String, (String, String)> {
    if to.ends_with("0000") {
        return Err((
            "recipient_not_found".into(),
            "the number is not on WhatsApp (sandbox: numbers ending in 0000)".into(),
        ));
    }
    Ok(format!("wamid.SANDBOX{}", Uuid::now_v7().simple()))
}

/// Reports sent, delivered and read for `wamid`, `step` apart.
pub fn report_statuses(
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
