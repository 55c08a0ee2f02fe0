//! Meta's pair rate, kept proactively: a sender messages one recipient at most once per gap
//! (`PARLEY_PAIR_SPACING_MS`), counted in the database so that it holds across every process
//! dispatching from it. Meta's error 131056 stays the reactive path for whatever slips through
//! (the same pair sent to from elsewhere, a lower limit on Meta's side).
//!
//! Each (sender, contact) pair has a row holding when it may next send. Taking a slot is one
//! `INSERT … ON CONFLICT DO UPDATE … WHERE next_send_at <= now RETURNING`: the row is created or
//! moved on only when the pair is free, and a statement that finds it taken returns nothing. On
//! Postgres a concurrent upsert of the same pair waits for the row lock and then re-checks the
//! WHERE against the row as updated, so of two racing sends exactly one gets the slot; SQLite has
//! one writer at a time.

use chrono::{DateTime, Duration, Utc};
use entity::sender_contact_pair::{ActiveModel, Column, Entity};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DbErr, EntityTrait, QueryTrait,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

/// Whether a send to the pair may go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairSlot {
    /// Go: the pair's next send is now held back until one gap from now.
    Taken,
    /// The pair sent less than one gap ago; it is free again at `until`.
    Busy { until: DateTime<Utc> },
}

/// Takes the pair's slot for a send at `now`, or says when it is free.
pub async fn take_slot(
    db: &impl ConnectionTrait,
    sender_id: Uuid,
    contact_id: Uuid,
    gap: Duration,
    now: DateTime<Utc>,
) -> Result<PairSlot, DbErr> {
    let next = now + gap;
    // From the entity's ActiveModel, so that the ids are bound as the entity binds them (SQLite
    // has no uuid type) and the conflict is found.
    let mut upsert = Entity::insert(ActiveModel {
        sender_id: Set(sender_id),
        contact_id: Set(contact_id),
        next_send_at: Set(next),
    })
    .on_conflict(
        OnConflict::columns([Column::SenderId, Column::ContactId])
            .update_column(Column::NextSendAt)
            .action_and_where(Expr::col((Entity, Column::NextSendAt)).lte(now))
            .to_owned(),
    )
    .into_query();
    // One statement, as in `ratelimit::hit_window`: a read after the write could see another
    // process's slot instead of ours.
    upsert.returning_col(Column::NextSendAt);
    if db.query_one(&upsert).await?.is_some() {
        return Ok(PairSlot::Taken);
    }
    // Only to schedule the retry: a slightly stale answer costs one more look, not a send.
    let until = Entity::find_by_id((sender_id, contact_id))
        .one(db)
        .await?
        .map_or(next, |pair| pair.next_send_at);
    Ok(PairSlot::Busy {
        until: std::cmp::max(until, now),
    })
}
