//! The send queue: the `send_attempts` table, one attempt per outbound message, and every
//! transition of an attempt. Each transition is one UPDATE guarded by the state it expects, so
//! that any number of dispatchers in any number of processes can share the queue:
//!
//! ```text
//!                           insert ──► QUEUED
//!   QUEUED                  ──claim_due──────► SENDING       (due, under a lease)
//!   SENDING                 ──record_accepted► ACCEPTED
//!   SENDING                 ──record_failed──► FAILED        (delivery_unknown if Meta may have it)
//!   SENDING                 ──record_retry───► QUEUED        (due again later)
//!   SENDING                 ──expire_leases──► FAILED delivery_unknown
//!   FAILED delivery_unknown ──settle_unknown─► ACCEPTED
//! ```
//! - [`insert`]: in the transaction that writes its message (see `crate::sending`);
//! - [`claim_due`]: a lease is a worker and a deadline — one statement, `FOR UPDATE SKIP LOCKED`
//!   on Postgres, the single writer on SQLite;
//! - `record_*`: only while the attempt is still SENDING under the same lease; a lease lost in
//!   between leaves the attempt as it is;
//! - [`expire_leases`]: whoever held the lease may have reached Meta, so the attempt is never
//!   sent again;
//! - [`settle_unknown`]: on any sign that Meta has the message (a status for it, or the answer
//!   that came back after the lease ended).
//!
//! Every transition but insert and claim adds `SendAttemptUpdated` to the unit of work (a new
//! send is announced by `crate::sending`, in this process only); the message's side of a
//! transition is `crate::message_status`'s. This module makes no request to WhatsApp and decides
//! nothing about retries: `crate::dispatch` does.

use chrono::{DateTime, Utc};
use entity::{
    new_id,
    send_attempt::{self, SendAttemptState},
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Order, QueryFilter,
    UpdateMany,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query},
};
use uuid::Uuid;

use crate::{
    error::ErrorCode,
    events::{Event, UnitOfWork},
    message_status,
};

/// What a new attempt is made of.
pub struct NewAttempt {
    pub workspace_id: Uuid,
    pub message_id: Uuid,
    pub sender_id: Uuid,
    pub api_key_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    /// When it may first be sent (the sender's pacing).
    pub next_attempt_at: DateTime<Utc>,
    pub contact_created: bool,
}

/// Queues an attempt: QUEUED, due at `next_attempt_at`. A unique violation means another attempt
/// holds its idempotency key.
pub async fn insert(
    txn: &impl ConnectionTrait,
    new: NewAttempt,
    now: DateTime<Utc>,
) -> Result<send_attempt::Model, DbErr> {
    send_attempt::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(new.workspace_id),
        message_id: Set(new.message_id),
        sender_id: Set(new.sender_id),
        api_key_id: Set(new.api_key_id),
        member_id: Set(new.member_id),
        state: Set(SendAttemptState::Queued),
        idempotency_key: Set(new.idempotency_key),
        request_hash: Set(new.request_hash),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(new.next_attempt_at),
        wamid: Set(None),
        wa_id: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        contact_created: Set(new.contact_created),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await
}

/// Frees the idempotency key of the attempt `id` (its retention ended), so that it can name a
/// new send.
pub async fn release_key(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    send_attempt::Entity::update_many()
        .col_expr(
            send_attempt::Column::IdempotencyKey,
            Expr::value(Option::<String>::None),
        )
        .filter(send_attempt::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Takes up to `limit` due attempts for `worker` until `lease_until`: QUEUED → SENDING, counting
/// one more attempt.
pub async fn claim_due(
    db: &DatabaseConnection,
    worker: &str,
    limit: usize,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<send_attempt::Model>, DbErr> {
    if limit == 0 {
        return Ok(Vec::new());
    }
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
        .value(send_attempt::Column::LeaseOwner, worker)
        .value(send_attempt::Column::LeaseExpiresAt, lease_until)
        .value(
            send_attempt::Column::Attempts,
            Expr::col(send_attempt::Column::Attempts).add(1),
        )
        .value(send_attempt::Column::UpdatedAt, now)
        .and_where(Expr::col(send_attempt::Column::Id).in_subquery(due))
        .and_where(Expr::col(send_attempt::Column::State).eq(SendAttemptState::Queued))
        .returning_all();
    let statement = db.get_database_backend().build(&claim);
    send_attempt::Entity::find()
        .from_raw_sql(statement)
        .all(db)
        .await
}

/// SENDING past its lease → FAILED `delivery_unknown`: whoever held it may have reached Meta.
/// Returns the attempts it expired.
pub async fn expire_leases(
    uow: &mut UnitOfWork<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<send_attempt::Model>, DbErr> {
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
    let statement = uow.txn().get_database_backend().build(&expire);
    let mut expired = send_attempt::Entity::find()
        .from_raw_sql(statement)
        .all(uow.txn())
        .await?;
    // Workspace rows are locked for their event numbers: always in one order.
    expired.sort_by_key(|attempt| (attempt.workspace_id, attempt.id));
    uow.extend(expired.iter().map(settled));
    Ok(expired)
}

/// SENDING under `worker`'s lease → ACCEPTED with WhatsApp's ids; `false` if the lease was lost.
pub async fn record_accepted(
    uow: &mut UnitOfWork<'_>,
    attempt: &send_attempt::Model,
    worker: &str,
    wamid: &str,
    wa_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let update = accepted(leased(attempt, worker, now), wamid)
        .col_expr(send_attempt::Column::WaId, Expr::value(wa_id));
    record(uow, update, attempt, SendAttemptState::Accepted).await
}

/// `update` making an attempt ACCEPTED under `wamid`, without the error it may have had.
fn accepted(
    update: UpdateMany<send_attempt::Entity>,
    wamid: &str,
) -> UpdateMany<send_attempt::Entity> {
    update
        .col_expr(
            send_attempt::Column::State,
            Expr::value(SendAttemptState::Accepted),
        )
        .col_expr(send_attempt::Column::Wamid, Expr::value(wamid))
        .col_expr(
            send_attempt::Column::ErrorCode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            send_attempt::Column::ErrorMessage,
            Expr::value(Option::<String>::None),
        )
}

/// SENDING under `worker`'s lease → FAILED with the contract's `code`; `false` if the lease was
/// lost.
pub async fn record_failed(
    uow: &mut UnitOfWork<'_>,
    attempt: &send_attempt::Model,
    worker: &str,
    code: ErrorCode,
    message: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let update = leased(attempt, worker, now)
        .col_expr(
            send_attempt::Column::State,
            Expr::value(SendAttemptState::Failed),
        )
        .col_expr(send_attempt::Column::ErrorCode, Expr::value(code.as_str()))
        .col_expr(send_attempt::Column::ErrorMessage, Expr::value(message));
    record(uow, update, attempt, SendAttemptState::Failed).await
}

/// SENDING under `worker`'s lease → QUEUED again, due `at`; an attempt that was never tried
/// (`counts` false: throttled) gets back the attempt its claim counted. `false` if the lease was
/// lost.
pub async fn record_retry(
    uow: &mut UnitOfWork<'_>,
    attempt: &send_attempt::Model,
    worker: &str,
    at: DateTime<Utc>,
    counts: bool,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut update = leased(attempt, worker, now)
        .col_expr(
            send_attempt::Column::State,
            Expr::value(SendAttemptState::Queued),
        )
        .col_expr(send_attempt::Column::NextAttemptAt, Expr::value(at))
        .col_expr(send_attempt::Column::ErrorMessage, Expr::value(reason));
    if !counts {
        update = update.col_expr(
            send_attempt::Column::Attempts,
            Expr::col(send_attempt::Column::Attempts).sub(1),
        );
    }
    record(uow, update, attempt, SendAttemptState::Queued).await
}

/// An update of `attempt` guarded by its being SENDING under `worker`'s lease, releasing the
/// lease.
fn leased(
    attempt: &send_attempt::Model,
    worker: &str,
    now: DateTime<Utc>,
) -> UpdateMany<send_attempt::Entity> {
    send_attempt::Entity::update_many()
        .col_expr(
            send_attempt::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            send_attempt::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(send_attempt::Column::UpdatedAt, Expr::value(now))
        .filter(send_attempt::Column::Id.eq(attempt.id))
        .filter(send_attempt::Column::State.eq(SendAttemptState::Sending))
        .filter(send_attempt::Column::LeaseOwner.eq(worker))
}

/// Runs a leased update; when it applied, adds the attempt's new `state`.
async fn record(
    uow: &mut UnitOfWork<'_>,
    update: UpdateMany<send_attempt::Entity>,
    attempt: &send_attempt::Model,
    state: SendAttemptState,
) -> Result<bool, DbErr> {
    if update.exec(uow.txn()).await?.rows_affected != 1 {
        return Ok(false);
    }
    uow.add(Event::SendAttemptUpdated {
        workspace_id: attempt.workspace_id,
        send_attempt_id: attempt.id,
        state,
    });
    Ok(true)
}

/// FAILED `delivery_unknown` → ACCEPTED with `wamid`, on any sign that Meta has the message (a
/// status for it, or the answer that came back after the lease ended); its message gets the
/// wamid too. `false` when the attempt was not waiting for that.
pub async fn settle_unknown(
    uow: &mut UnitOfWork<'_>,
    attempt_id: Uuid,
    wamid: &str,
) -> Result<bool, DbErr> {
    let settled_now = accepted(send_attempt::Entity::update_many(), wamid)
        .col_expr(send_attempt::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(send_attempt::Column::Id.eq(attempt_id))
        .filter(send_attempt::Column::State.eq(SendAttemptState::Failed))
        .filter(send_attempt::Column::ErrorCode.eq(ErrorCode::DeliveryUnknown.as_str()))
        .exec(uow.txn())
        .await?;
    if settled_now.rows_affected == 0 {
        return Ok(false);
    }
    let Some(attempt) = send_attempt::Entity::find_by_id(attempt_id)
        .one(uow.txn())
        .await?
    else {
        return Ok(false);
    };
    message_status::accepted_after_all(uow.txn(), attempt.message_id, wamid).await?;
    uow.add(settled(&attempt));
    Ok(true)
}

/// The event of an attempt as it now stands.
fn settled(attempt: &send_attempt::Model) -> Event {
    Event::SendAttemptUpdated {
        workspace_id: attempt.workspace_id,
        send_attempt_id: attempt.id,
        state: attempt.state,
    }
}
