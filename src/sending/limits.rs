//! Per-sender limits on the send path: the daily cap and the optional pacing gap.

use chrono::{DateTime, Duration, Utc};
use entity::{sender, sender_daily_count};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ConnectionTrait, DatabaseTransaction, EntityTrait, QuerySelect, QueryTrait,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::error::{AppError, ErrorCode};

/// Counts one send against the sender's cap for the UTC day; refuses with `rate_limited` beyond
/// it. Runs inside the send's transaction, so a refused or failed send does not count.
pub async fn count_daily_send(
    txn: &DatabaseTransaction,
    sender_id: uuid::Uuid,
    daily_limit: u32,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut upsert = sender_daily_count::Entity::insert(sender_daily_count::ActiveModel {
        sender_id: Set(sender_id),
        day: Set(now.format("%Y-%m-%d").to_string()),
        count: Set(1),
    })
    .on_conflict(
        OnConflict::columns([
            sender_daily_count::Column::SenderId,
            sender_daily_count::Column::Day,
        ])
        .value(
            sender_daily_count::Column::Count,
            Expr::col((
                sender_daily_count::Entity,
                sender_daily_count::Column::Count,
            ))
            .add(1),
        )
        .to_owned(),
    )
    .into_query();
    upsert.returning_col(sender_daily_count::Column::Count);
    let count: i32 = txn
        .query_one(&upsert)
        .await?
        .ok_or(sea_orm::DbErr::RecordNotInserted)?
        .try_get_by_index(0)?;
    if u32::try_from(count).unwrap_or(u32::MAX) > daily_limit {
        return Err(AppError::client(
            ErrorCode::RateLimited,
            format!(
                "this sender's daily limit of {daily_limit} messages is reached; it resets at 00:00 UTC"
            ),
        ));
    }
    Ok(())
}

/// When this send may go out: now, or for a paced sender the next free slot, which then moves on
/// by a random gap between the sender's bounds.
pub async fn pacing_slot(
    txn: &DatabaseTransaction,
    sender: &sender::Model,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, AppError> {
    if !sender.pacing_enabled {
        return Ok(now);
    }
    // Re-read under a row lock (Postgres; SQLite's transaction already holds the write lock) so
    // that concurrent sends take successive slots.
    let current = sender::Entity::find_by_id(sender.id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| AppError::not_found("sender"))?;
    let slot = current
        .next_send_at
        .map_or(now, |next| std::cmp::max(next, now));
    let low = std::cmp::max(current.pacing_min_secs, 0);
    let high = std::cmp::max(current.pacing_max_secs, low);
    let gap = Duration::seconds(i64::from(rand::rng().random_range(low..=high)));
    let mut paced: sender::ActiveModel = current.into();
    paced.next_send_at = Set(Some(slot + gap));
    paced.update(txn).await?;
    Ok(slot)
}
