//! `/webhooks/whatsapp`: Meta's verification handshake (GET) and event deliveries (POST).
//!
//! A POST is checked against `X-Hub-Signature-256` over the raw bytes, in constant time, before
//! anything is parsed or stored; a bad or missing signature is 401 and changes nothing. A good one
//! is stored as it came (`webhook_events`, once per distinct body: Meta's retries are duplicates)
//! before it is applied and before the 200, so a crash after the answer loses nothing: the
//! server re-applies stored deliveries that were never marked processed. Deliveries that arrive
//! together are stored and applied together, one transaction per batch ([`Intake`]).
//!
//! A delivery's bytes are read once, into Meta's model ([`Delivery`]). However a stored delivery
//! comes to be applied (in its batch, alone, or again by the retry loop) it is applied by one
//! function, `apply_batch`: a lone delivery is a batch of one.

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use entity::{new_id, webhook_event};
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, TryInsertResult, sea_query::Expr,
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::apply::{Applied, Routed};
use crate::{
    config::Config, db, error::AppError, events::UnitOfWork, services::Services,
    whatsapp::webhook::Delivery,
};

#[derive(Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET /webhooks/whatsapp`: echoes `hub.challenge` when `hub.verify_token` is ours.
pub async fn verify(State(intake): State<Intake>, Query(handshake): Query<Handshake>) -> Response {
    let expected = intake.config.webhook_verify_token.as_ref();
    let matches = match (expected, handshake.verify_token.as_deref()) {
        (Some(expected), Some(given)) => {
            bool::from(expected.expose_secret().as_bytes().ct_eq(given.as_bytes()))
        }
        _ => false,
    };
    match (handshake.mode.as_deref(), handshake.challenge) {
        (Some("subscribe"), Some(challenge)) if matches && challenge.len() <= 256 => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            challenge,
        )
            .into_response(),
        _ => (StatusCode::FORBIDDEN, "verification failed").into_response(),
    }
}

/// The `X-Hub-Signature-256` value Meta sends with `body`: what a signer (a test, a benchmark, a
/// relay) puts on a delivery for it to be accepted.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
pub fn signature_is_valid(secret: &[u8], body: &[u8], signature: Option<&str>) -> bool {
    let Some(hex_digest) = signature.and_then(|value| value.strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(given) = hex::decode(hex_digest.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&given).is_ok()
}

/// `POST /webhooks/whatsapp`
pub async fn receive(State(intake): State<Intake>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|value| value.to_str().ok());
    let valid = match &intake.config.app_secret {
        Some(secret) => signature_is_valid(secret.expose_secret().as_bytes(), &body, signature),
        None => {
            tracing::warn!(
                "webhook refused: PARLEY_APP_SECRET is not set, so nothing can be verified"
            );
            false
        }
    };
    if !valid {
        return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
    }
    match intake.submit(body).await {
        Ok(()) => (StatusCode::OK, "OK").into_response(),
        Err(error) => error.into_response(),
    }
}

/// Deliveries most often written in one transaction.
const MAX_BATCH: usize = 64;

/// Deliveries waiting for their transaction; a full queue makes requests wait for room.
const QUEUE: usize = 1024;

/// The writer of verified deliveries. Concurrent deliveries are stored and applied together, in
/// one transaction per batch: intake takes one commit (one flush on Postgres) and one turn of the
/// workspace's event number per batch rather than per delivery. Each request is answered once
/// its batch has committed, so a 200 still means stored.
#[derive(Clone)]
pub struct Intake {
    queue: mpsc::Sender<Job>,
    /// The app secret that signs deliveries and the handshake's verify token.
    config: Arc<Config>,
}

/// A delivery waiting to be written, and its request waiting for the outcome.
struct Job {
    body: Bytes,
    answer: oneshot::Sender<Result<(), AppError>>,
}

impl Intake {
    /// Starts the writer. On Postgres two batches may be written at once, so that one is applied
    /// while the other's commit waits for the disk; SQLite has a single writer anyway.
    pub fn start(services: &Services) -> Self {
        let config = services.config.clone();
        let services = services.clone();
        let (queue, mut jobs) = mpsc::channel::<Job>(QUEUE);
        let writers = match services.db.get_database_backend() {
            DatabaseBackend::Postgres => 2,
            _ => 1,
        };
        let writers = Arc::new(Semaphore::new(writers));
        tokio::spawn(async move {
            loop {
                let Ok(writer) = writers.clone().acquire_owned().await else {
                    return;
                };
                let Some(first) = jobs.recv().await else {
                    return;
                };
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH
                    && let Ok(job) = jobs.try_recv()
                {
                    batch.push(job);
                }
                let services = services.clone();
                tokio::spawn(async move {
                    write_batch(&services, batch).await;
                    drop(writer);
                });
            }
        });
        Self { queue, config }
    }

    /// Stores and applies a verified delivery; returns once it is stored.
    pub async fn submit(&self, body: Bytes) -> Result<(), AppError> {
        let (answer, outcome) = oneshot::channel();
        let unavailable = || AppError::Internal(anyhow::anyhow!("the webhook writer stopped"));
        self.queue
            .send(Job { body, answer })
            .await
            .map_err(|_| unavailable())?;
        outcome.await.unwrap_or_else(|_| Err(unavailable()))
    }
}

/// Stores and applies `batch` in one transaction, then answers its requests. If that fails, each
/// delivery is written alone, so that one bad delivery (or a deadlock) costs only itself; one
/// that still cannot be applied is stored alone, for the retry loop to apply.
async fn write_batch(services: &Services, batch: Vec<Job>) {
    let (bodies, answers): (Vec<Bytes>, Vec<_>) =
        batch.into_iter().map(|job| (job.body, job.answer)).unzip();
    let mut answers: Vec<Option<oneshot::Sender<_>>> = answers.into_iter().map(Some).collect();
    let written = store_and_apply(services, &bodies, |index, _| {
        // Stored, so answered 200 even if applying it failed: the retry loop applies it.
        if let Some(answer) = answers[index].take() {
            let _ = answer.send(Ok(()));
        }
    })
    .await;
    let unanswered: Vec<Job> = bodies
        .into_iter()
        .zip(answers)
        .filter_map(|(body, answer)| {
            Some(Job {
                body,
                answer: answer?,
            })
        })
        .collect();
    let error = match written {
        // Those left were stored before, or are not JSON (stored, never to be applied).
        Ok(()) => {
            for job in unanswered {
                let _ = job.answer.send(Ok(()));
            }
            return;
        }
        // Nothing of the batch is stored.
        Err(error) => error,
    };
    if unanswered.len() > 1 {
        tracing::debug!(?error, "a batch of webhooks failed; writing each alone");
        for job in unanswered {
            Box::pin(write_batch(services, vec![job])).await;
        }
        return;
    }
    for job in unanswered {
        tracing::warn!(?error, "applying a webhook failed; storing it alone");
        let _ = job.answer.send(store_alone(&services.db, &job.body).await);
    }
}

/// Stores every delivery of `bodies` that was not stored before, in one transaction, and applies
/// them ([`apply_batch`]). On `Err` nothing is stored.
async fn store_and_apply(
    services: &Services,
    bodies: &[impl AsRef<[u8]>],
    done: impl FnMut(usize, Result<(), AppError>),
) -> Result<(), AppError> {
    let (db, bus) = (&services.db, &services.events);
    let deliveries: Vec<_> = bodies
        .iter()
        .map(|body| Delivery::parse(body.as_ref()))
        .collect();
    let uow = UnitOfWork::begin(db, bus).await?;
    let mut routed = Vec::with_capacity(deliveries.len());
    let mut senders = Vec::new();
    for delivery in &deliveries {
        routed.push(match delivery {
            Ok(delivery) => Some(Routed::read(uow.txn(), delivery, &mut senders).await?),
            Err(_) => None,
        });
    }
    let mut order: Vec<usize> = (0..bodies.len()).collect();
    order.sort_by_key(|&index| routed[index].as_ref().map(Routed::lock_key));
    // Each distinct body once, as processed when it is applied in this transaction.
    let mut rows: Vec<(usize, StoredDelivery<'_>)> = Vec::with_capacity(bodies.len());
    for index in order {
        let delivery = deliveries[index].as_ref();
        let mut stored = StoredDelivery::new(
            bodies[index].as_ref(),
            delivery.ok(),
            routed[index].as_ref(),
        );
        stored.processed = routed[index].as_ref().is_none_or(Routed::is_single);
        if let Err(error) = delivery {
            stored.note = Some(not_json(error));
        }
        if rows.iter().all(|(_, row)| row.hash != stored.hash) {
            rows.push((index, stored));
        }
    }
    let inserted = insert_new(uow.txn(), rows.iter().map(|(_, row)| row.row())).await?;
    let batch: Vec<Stored<'_>> = rows
        .iter()
        .filter(|(_, row)| inserted.contains(&row.id))
        .filter_map(|(index, row)| {
            Some(Stored {
                index: *index,
                id: row.id,
                attempts: 1,
                routed: routed[*index].as_ref()?,
                stored_processed: row.processed,
            })
        })
        .collect();
    apply_batch(services, uow, &batch, done).await
}

/// A stored delivery to apply.
struct Stored<'a> {
    /// Its place in the caller's batch.
    index: usize,
    /// Its row in `webhook_events`.
    id: Uuid,
    /// Which try this is, as `process_attempts` records it.
    attempts: i32,
    routed: &'a Routed<'a>,
    /// Stored as processed by the transaction that applies it: marked again only with a note.
    stored_processed: bool,
}

/// The one way stored deliveries are applied, whether they arrive together, alone (a batch of
/// one) or are applied again by the retry loop. Those of a single change are applied in `uow`,
/// in `batch`'s order, and marked processed in it; once it commits, the others are applied one
/// transaction per change (see [`Routed::is_single`]) and marked. `done(index, outcome)` is
/// called for each once it is applied; an `Err` was recorded on its row. `Err` from here means
/// `uow` did not commit.
async fn apply_batch<'a>(
    services: &'a Services,
    mut uow: UnitOfWork<'a>,
    batch: &[Stored<'_>],
    mut done: impl FnMut(usize, Result<(), AppError>),
) -> Result<(), AppError> {
    let (singles, several): (Vec<&Stored<'_>>, Vec<_>) =
        batch.iter().partition(|stored| stored.routed.is_single());
    let mut applied = Applied::default();
    applied
        .lock_statuses(&uow, singles.iter().map(|stored| stored.routed))
        .await?;
    for stored in &singles {
        let note = stored.routed.apply_in(&mut uow, &mut applied).await?;
        if !stored.stored_processed || note.is_some() {
            mark(uow.txn(), stored.id, stored.attempts, Ok(note.as_deref())).await?;
        }
    }
    applied.commit(uow, services).await?;
    for stored in singles {
        done(stored.index, Ok(()));
    }
    for stored in several {
        done(stored.index, apply_each(services, stored).await);
    }
    Ok(())
}

/// Applies a stored delivery of several changes, one transaction per change, and marks it
/// processed; if that fails, records why, and the retry loop applies it later.
async fn apply_each(services: &Services, stored: &Stored<'_>) -> Result<(), AppError> {
    let db = &services.db;
    let (id, attempts) = (stored.id, stored.attempts);
    let applied = match stored.routed.apply_each(services).await {
        Ok(note) => mark(db, id, attempts, Ok(note.as_deref())).await,
        Err(error) => Err(error),
    };
    let Err(error) = applied else {
        return Ok(());
    };
    tracing::warn!(event_id = %id, ?error, "webhook stored but not applied yet");
    if let Err(error) = mark(db, id, attempts, Err(&error)).await {
        tracing::warn!(event_id = %id, ?error, "recording why a webhook was not applied failed");
    }
    Err(error)
}

/// Stores a delivery that could not be applied, unprocessed (once: Meta's retries are
/// duplicates); the retry loop applies it later.
async fn store_alone(db: &DatabaseConnection, body: &[u8]) -> Result<(), AppError> {
    let delivery = Delivery::parse(body);
    let txn = db::begin_write(db).await?;
    let routed = match &delivery {
        Ok(delivery) => Some(Routed::read(&txn, delivery, &mut Vec::new()).await?),
        Err(_) => None,
    };
    let stored = StoredDelivery::new(body, delivery.as_ref().ok(), routed.as_ref());
    insert_new(&txn, [stored.row()]).await?;
    Ok(txn.commit().await?)
}

/// Stores and applies a delivery as the server does, without its queue (for tools and the
/// fuzzer). `Err` when it could not be stored, or was stored but could not be applied.
pub async fn apply_delivery(services: &Services, body: &[u8]) -> Result<(), AppError> {
    let mut outcome = Ok(());
    store_and_apply(services, &[body], |_, applied| outcome = applied).await?;
    outcome
}

/// A delivery's row in `webhook_events`, as it came.
struct StoredDelivery<'a> {
    id: Uuid,
    body: &'a [u8],
    hash: String,
    workspace_id: Option<Uuid>,
    phone_number_id: Option<String>,
    /// Stored as applied: it is applied in the transaction that stores it.
    processed: bool,
    /// What applying it skipped, when it is stored as processed.
    note: Option<String>,
}

impl<'a> StoredDelivery<'a> {
    fn new(body: &'a [u8], delivery: Option<&Delivery>, routed: Option<&Routed<'_>>) -> Self {
        Self {
            id: new_id(),
            body,
            hash: hex::encode(Sha256::digest(body)),
            workspace_id: routed.and_then(Routed::workspace_id),
            phone_number_id: delivery
                .and_then(Delivery::phone_number_id)
                .map(str::to_owned),
            processed: false,
            note: None,
        }
    }

    fn row(&self) -> webhook_event::ActiveModel {
        webhook_event::ActiveModel {
            id: Set(self.id),
            workspace_id: Set(self.workspace_id),
            phone_number_id: Set(self.phone_number_id.clone()),
            payload_hash: Set(self.hash.clone()),
            payload: Set(String::from_utf8_lossy(self.body).into_owned()),
            received_at: Set(Utc::now()),
            processed_at: Set(self.processed.then(Utc::now)),
            process_attempts: Set(i32::from(self.processed)),
            process_error: Set(self.note.clone().filter(|_| self.processed)),
        }
    }
}

/// Inserts `rows` (of distinct bodies) with one statement; the ids of those whose body was not
/// stored before.
async fn insert_new(
    db: &impl ConnectionTrait,
    rows: impl IntoIterator<Item = webhook_event::ActiveModel>,
) -> Result<Vec<Uuid>, AppError> {
    let inserted = webhook_event::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([webhook_event::Column::PayloadHash])
        .exec_with_returning_keys(db)
        .await?;
    Ok(match inserted {
        TryInsertResult::Inserted(ids) => ids,
        TryInsertResult::Empty | TryInsertResult::Conflicted => Vec::new(),
    })
}

fn not_json(error: &serde_json::Error) -> String {
    // Signed by Meta yet not JSON: keep it, never retry it.
    format!("not JSON: {error}")
}

/// Records an attempt to apply delivery `id`: processed (with a note of what was skipped) or the
/// error that stopped it.
async fn mark(
    db: &impl ConnectionTrait,
    id: Uuid,
    attempts: i32,
    outcome: Result<Option<&str>, &AppError>,
) -> Result<(), AppError> {
    let mut update = webhook_event::Entity::update_many()
        .col_expr(
            webhook_event::Column::ProcessAttempts,
            Expr::value(attempts),
        )
        .filter(webhook_event::Column::Id.eq(id));
    update = match outcome {
        Ok(note) => update
            .col_expr(webhook_event::Column::ProcessedAt, Expr::value(Utc::now()))
            .col_expr(
                webhook_event::Column::ProcessError,
                Expr::value(note.map(str::to_owned)),
            ),
        Err(error) => update.col_expr(
            webhook_event::Column::ProcessError,
            Expr::value(format!("{error:?}")),
        ),
    };
    update.exec(db).await?;
    Ok(())
}

/// Applies a stored delivery again and marks it processed (or records why it could not be).
pub async fn process(services: &Services, event_id: Uuid) -> Result<(), AppError> {
    let (db, bus) = (&services.db, &services.events);
    let Some(event) = webhook_event::Entity::find_by_id(event_id).one(db).await? else {
        return Ok(());
    };
    let attempts = event.process_attempts + 1;
    let delivery = match Delivery::parse(event.payload.as_bytes()) {
        Ok(delivery) => delivery,
        Err(error) => return mark(db, event_id, attempts, Ok(Some(&not_json(&error)))).await,
    };
    let mut outcome = Ok(());
    // Redoable: if its commit is lost, the delivery is still stored unprocessed.
    let applied = async {
        let uow = UnitOfWork::begin_redoable(db, bus).await?;
        let routed = Routed::read(uow.txn(), &delivery, &mut Vec::new()).await?;
        let stored = Stored {
            index: 0,
            id: event_id,
            attempts,
            routed: &routed,
            stored_processed: false,
        };
        apply_batch(services, uow, &[stored], |_, applied| outcome = applied).await
    }
    .await;
    if let Err(error) = applied {
        mark(db, event_id, attempts, Err(&error)).await?;
        return Err(error);
    }
    outcome
}

/// Re-applies deliveries stored but never processed (a crash, a database hiccup), oldest first;
/// gives up on one after a few tries, keeping it for inspection.
pub async fn process_pending(services: &Services) -> Result<(), AppError> {
    let db = &services.db;
    const MAX_TRIES: i32 = 5;
    let stale = Utc::now() - chrono::Duration::seconds(5);
    let pending = webhook_event::Entity::find()
        .filter(webhook_event::Column::ProcessedAt.is_null())
        .filter(webhook_event::Column::ProcessAttempts.lt(MAX_TRIES))
        .filter(webhook_event::Column::ReceivedAt.lt(stale))
        .order_by_asc(webhook_event::Column::ReceivedAt)
        .limit(100)
        .all(db)
        .await?;
    for event in pending {
        if let Err(error) = process(services, event.id).await {
            tracing::warn!(event_id = %event.id, ?error, "re-applying a webhook failed");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_over_the_raw_bytes() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_is_valid(b"app-secret", body, Some(&good)));
        assert!(!signature_is_valid(b"other-secret", body, Some(&good)));
        assert!(!signature_is_valid(b"app-secret", body, None));
        assert!(!signature_is_valid(b"app-secret", body, Some("sha256=zz")));
        assert!(!signature_is_valid(b"app-secret", body, Some(&good[7..])));
        let mut flipped = body.to_vec();
        flipped[3] ^= 1;
        assert!(!signature_is_valid(b"app-secret", &flipped, Some(&good)));
    }
}
