//! Per-subject fixed-window rate limiting (requests per minute) with its state in the database,
//! so that every Parley process sharing the database counts against the same limit.
//!
//! A subject is whatever is being limited, an API key or a member, named by its id. Each minute
//! (aligned to unix time) gets its own counter row in `rate_limit_windows`.

use chrono::{DateTime, Utc};
use entity::rate_limit_window::{ActiveModel, Column, Entity};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryTrait,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

const WINDOW_SECS: i64 = 60;

/// Windows are kept this long after they start; older ones can no longer decide anything.
const RETENTION_SECS: i64 = 2 * WINDOW_SECS;

/// The outcome of one request against a subject's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitDecision {
    /// Whether the request is within the limit.
    pub allowed: bool,
    /// The limit per minute the request was checked against.
    pub limit: u32,
    /// Requests still allowed in this window.
    pub remaining: u32,
    /// Unix seconds at which the current window ends and the count starts again from zero.
    pub reset_at: i64,
    /// Requests counted in this window so far, this one and refused ones included.
    pub count: u32,
}

impl RateLimitDecision {
    /// Seconds from `now` (unix seconds) until the window resets, 0 once it has: the value for a
    /// refused request's `Retry-After`.
    pub fn retry_after_secs(&self, now: i64) -> u64 {
        u64::try_from(self.reset_at.saturating_sub(now)).unwrap_or(0)
    }
}

/// Counts one request by `subject_id` in the minute containing `now` and decides it against
/// `limit_per_minute`.
///
/// A refused request is counted too, so retrying harder within the window never gets a client
/// through sooner. The increment and the read of the new count are one `INSERT … ON CONFLICT DO
/// UPDATE … RETURNING` statement, so concurrent callers, in this process or another, each see a
/// distinct count and exactly `limit_per_minute` of them are allowed.
pub async fn hit(
    db: &DatabaseConnection,
    subject_id: Uuid,
    limit_per_minute: u32,
    now: DateTime<Utc>,
) -> Result<RateLimitDecision, DbErr> {
    hit_window(db, subject_id, limit_per_minute, WINDOW_SECS, now).await
}

/// [`hit`] with a window of `window_secs` (e.g. 1 for a per-second throughput limit). Windows
/// of one subject must always have the same length.
pub async fn hit_window(
    db: &DatabaseConnection,
    subject_id: Uuid,
    limit: u32,
    window_secs: i64,
    now: DateTime<Utc>,
) -> Result<RateLimitDecision, DbErr> {
    let window_start = now.timestamp().div_euclid(window_secs) * window_secs;
    // Built from the entity's ActiveModel so the subject id is bound exactly as the entity binds
    // it (SQLite has no uuid type); a differently encoded id would never hit the conflict.
    let mut upsert = Entity::insert(ActiveModel {
        subject_id: Set(subject_id),
        window_start: Set(window_start),
        count: Set(1),
    })
    .on_conflict(
        OnConflict::columns([Column::SubjectId, Column::WindowStart])
            .value(Column::Count, Expr::col((Entity, Column::Count)).add(1))
            .to_owned(),
    )
    .into_query();
    // Not `exec_with_returning`: without sea-orm's `sqlite-use-returning-for-3_35` feature it
    // reads the row back in a second statement, which another writer could slip between.
    upsert.returning_col(Column::Count);
    let count: i32 = db
        .query_one(&upsert)
        .await?
        .ok_or(DbErr::RecordNotInserted)?
        .try_get_by_index(0)?;
    let count = u32::try_from(count)
        .map_err(|_| DbErr::Custom(format!("rate-limit count {count} is negative")))?;

    Ok(RateLimitDecision {
        allowed: count <= limit,
        limit,
        remaining: limit.saturating_sub(count),
        reset_at: window_start + window_secs,
        count,
    })
}

/// Deletes the windows that started more than two minutes before `now` and returns how many.
/// The extra minute of retention leaves room for processes whose clocks differ slightly.
pub async fn prune(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let cutoff = now.timestamp() - RETENTION_SECS;
    let deleted = Entity::delete_many()
        .filter(Column::WindowStart.lt(cutoff))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
