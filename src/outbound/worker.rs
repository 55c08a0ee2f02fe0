//! The outbound webhook worker: claims due deliveries under a lease, POSTs them signed, and
//! records the outcome with updates guarded by the state they expect, like the send dispatcher:
//! - claim: PENDING, due, endpoint enabled → DELIVERING under this worker's lease (one statement;
//!   `FOR UPDATE SKIP LOCKED` on Postgres, the single writer on SQLite);
//! - record: DELIVERING (still ours) → DELIVERED | PENDING again after a backoff | FAILED once out
//!   of tries;
//! - expire: DELIVERING past its lease (a crash) → PENDING: webhooks are at least once, and the
//!   stable event id lets receivers drop the duplicate.
//!
//! An endpoint whose deliveries keep failing, without a success, for the configured time is
//! disabled with the reason shown to the workspace.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use entity::{
    webhook_delivery::{self, WebhookDeliveryState},
    webhook_endpoint,
};
use rand::Rng;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, Order, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query},
};
use secrecy::ExposeSecret;
use tokio::sync::{Semaphore, watch};
use uuid::Uuid;

use super::address::{self, EndpointUrl};
use crate::{config::OutboundWebhooks, db::ServerSecrets, services::Services};

/// Bytes of an endpoint's answer kept in the delivery log.
const EXCERPT_BYTES: usize = 256;
/// Longest error message kept.
const MAX_ERROR: usize = 500;
/// How long finished deliveries stay in the log.
const RETENTION: chrono::Duration = chrono::Duration::days(30);

pub struct DeliveryWorker {
    db: DatabaseConnection,
    secrets: Arc<ServerSecrets>,
    settings: OutboundWebhooks,
    client: reqwest::Client,
    /// This process's name on the leases it takes.
    worker: String,
}

/// A running worker; stop it with [`WorkerHandle::stop`].
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops claiming and lets deliveries in flight finish, for at most `grace`.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!("webhook deliveries were still in flight when the grace period ended");
        }
    }
}

/// How one try ended.
enum Outcome {
    Delivered {
        code: i32,
        excerpt: Option<String>,
    },
    Failed {
        code: Option<i32>,
        error: String,
        excerpt: Option<String>,
    },
    /// Not tried: the endpoint was disabled after the claim.
    Skipped,
}

impl DeliveryWorker {
    pub fn new(services: &Services) -> anyhow::Result<Self> {
        let Services {
            db,
            config,
            secrets,
            ..
        } = services.clone();
        let settings = config.outbound_webhooks.clone();
        if settings.allow_loopback {
            tracing::warn!(
                "PARLEY_OUTBOUND_WEBHOOKS_ALLOW_LOOPBACK is on: webhooks may reach this host over \
                 http; it is meant for tests only"
            );
        }
        let client = address::client(
            Duration::from_millis(settings.timeout_ms),
            settings.allow_loopback,
        )?;
        Ok(Self {
            db,
            secrets,
            settings,
            client,
            worker: format!("hooks-{}", Uuid::now_v7().simple()),
        })
    }

    pub fn spawn(self) -> WorkerHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(Arc::new(self).run(stopped));
        WorkerHandle { stop, task }
    }

    async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency));
        let poll = Duration::from_millis(self.settings.poll_ms);
        let mut pruned: Option<tokio::time::Instant> = None;
        while !*stopped.borrow() {
            if let Err(error) = self.expire_leases().await {
                tracing::warn!(%error, "expiring webhook delivery leases failed");
            }
            if pruned.is_none_or(|at| at.elapsed() >= Duration::from_secs(3600)) {
                if let Err(error) = self.prune().await {
                    tracing::warn!(%error, "pruning the webhook delivery log failed");
                }
                pruned = Some(tokio::time::Instant::now());
            }
            let free = slots.available_permits();
            let claimed = match self.claim(free).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "claiming webhook deliveries failed");
                    Vec::new()
                }
            };
            let busy = !claimed.is_empty() && claimed.len() == free;
            for delivery in claimed {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                let worker = self.clone();
                tokio::spawn(async move {
                    worker.deliver(delivery).await;
                    drop(slot);
                });
            }
            if busy {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                _ = stopped.changed() => {}
            }
        }
        let all = u32::try_from(self.settings.concurrency).unwrap_or(u32::MAX);
        let _ = slots.acquire_many(all).await;
    }

    /// Takes up to `limit` due deliveries of enabled endpoints: PENDING → DELIVERING.
    async fn claim(&self, limit: usize) -> Result<Vec<webhook_delivery::Model>, DbErr> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        // A read first: an idle server must not take SQLite's write lock every poll (an UPDATE
        // takes it even when it matches nothing).
        let any_due = self
            .any(
                webhook_delivery::Column::State.eq(WebhookDeliveryState::Pending),
                webhook_delivery::Column::NextAttemptAt.lte(now),
            )
            .await?;
        if !any_due {
            return Ok(Vec::new());
        }
        let lease = self.settings.timeout_ms.saturating_add(30_000);
        let lease_until =
            now + chrono::Duration::milliseconds(i64::try_from(lease).unwrap_or(i64::MAX / 2));
        let enabled = Query::select()
            .column(webhook_endpoint::Column::Id)
            .from(webhook_endpoint::Entity)
            .and_where(Expr::col(webhook_endpoint::Column::Enabled).eq(true))
            .to_owned();
        let due = Query::select()
            .column(webhook_delivery::Column::Id)
            .from(webhook_delivery::Entity)
            .and_where(Expr::col(webhook_delivery::Column::State).eq(WebhookDeliveryState::Pending))
            .and_where(Expr::col(webhook_delivery::Column::NextAttemptAt).lte(now))
            .and_where(Expr::col(webhook_delivery::Column::EndpointId).in_subquery(enabled))
            .order_by(webhook_delivery::Column::NextAttemptAt, Order::Asc)
            .limit(limit as u64)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let mut claim = Query::update();
        claim
            .table(webhook_delivery::Entity)
            .value(
                webhook_delivery::Column::State,
                WebhookDeliveryState::Delivering,
            )
            .value(webhook_delivery::Column::LeaseOwner, self.worker.clone())
            .value(webhook_delivery::Column::LeaseExpiresAt, lease_until)
            .value(
                webhook_delivery::Column::Attempts,
                Expr::col(webhook_delivery::Column::Attempts).add(1),
            )
            .value(webhook_delivery::Column::LastAttemptAt, now)
            .value(webhook_delivery::Column::UpdatedAt, now)
            .and_where(Expr::col(webhook_delivery::Column::Id).in_subquery(due))
            .and_where(Expr::col(webhook_delivery::Column::State).eq(WebhookDeliveryState::Pending))
            .returning_all();
        let statement = self.db.get_database_backend().build(&claim);
        webhook_delivery::Entity::find()
            .from_raw_sql(statement)
            .all(&self.db)
            .await
    }

    /// Whether any delivery matches both conditions (a read, for the idle case).
    async fn any(
        &self,
        state: sea_orm::sea_query::SimpleExpr,
        time: sea_orm::sea_query::SimpleExpr,
    ) -> Result<bool, DbErr> {
        let found: Option<Uuid> = webhook_delivery::Entity::find()
            .select_only()
            .column(webhook_delivery::Column::Id)
            .filter(state)
            .filter(time)
            .limit(1)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(found.is_some())
    }

    /// DELIVERING past its lease → PENDING, due now.
    async fn expire_leases(&self) -> Result<(), DbErr> {
        let now = Utc::now();
        let any_expired = self
            .any(
                webhook_delivery::Column::State.eq(WebhookDeliveryState::Delivering),
                webhook_delivery::Column::LeaseExpiresAt.lt(now),
            )
            .await?;
        if !any_expired {
            return Ok(());
        }
        let expired = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::State,
                Expr::value(WebhookDeliveryState::Pending),
            )
            .col_expr(
                webhook_delivery::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
            .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_delivery::Column::State.eq(WebhookDeliveryState::Delivering))
            .filter(webhook_delivery::Column::LeaseExpiresAt.lt(now))
            .exec(&self.db)
            .await?;
        if expired.rows_affected > 0 {
            tracing::warn!(
                count = expired.rows_affected,
                "webhook delivery leases expired: retrying"
            );
        }
        Ok(())
    }

    /// Deletes finished deliveries older than the retention.
    async fn prune(&self) -> Result<(), DbErr> {
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::State.is_in([
                WebhookDeliveryState::Delivered,
                WebhookDeliveryState::Failed,
            ]))
            .filter(webhook_delivery::Column::UpdatedAt.lt(Utc::now() - RETENTION))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn deliver(&self, delivery: webhook_delivery::Model) {
        let outcome = match self.try_deliver(&delivery).await {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!(delivery_id = %delivery.id, ?error, "webhook delivery could not start");
                Outcome::Failed {
                    code: None,
                    error: "internal error before sending".into(),
                    excerpt: None,
                }
            }
        };
        if let Err(error) = self.record(&delivery, outcome).await {
            tracing::error!(delivery_id = %delivery.id, %error, "recording a webhook delivery failed");
        }
    }

    async fn try_deliver(&self, delivery: &webhook_delivery::Model) -> anyhow::Result<Outcome> {
        let Some(endpoint) = webhook_endpoint::Entity::find_by_id(delivery.endpoint_id)
            .one(&self.db)
            .await?
        else {
            // Deleted meanwhile: its deliveries went with it.
            return Ok(Outcome::Skipped);
        };
        if !endpoint.enabled {
            return Ok(Outcome::Skipped);
        }
        let allow_loopback = self.settings.allow_loopback;
        // Checked again: the rules (or the test-only switch) may have changed since it was
        // registered.
        let url = match EndpointUrl::parse(&endpoint.url, allow_loopback) {
            Ok(url) => url,
            Err(error) => return Ok(failed(None, error)),
        };
        if let Err(refused) = url.check_literal(allow_loopback) {
            return Ok(failed(None, refused.to_string()));
        }
        let secret = self.secrets.open(&endpoint.secret_encrypted)?;
        let timestamp = Utc::now().timestamp();
        let signature =
            address::signature(secret.expose_secret().as_bytes(), timestamp, &delivery.body);
        let sent = self
            .client
            .post(url.url().clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("Parley-Signature", signature)
            .header("Parley-Event-Id", delivery.event_id.to_string())
            .header("Parley-Event-Type", delivery.event_type.as_str())
            .header("Parley-Delivery-Id", delivery.id.to_string())
            .body(delivery.body.clone())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return Ok(failed(None, describe(error, self.settings.timeout_ms))),
        };
        let status = response.status();
        let code = i32::from(status.as_u16());
        let excerpt = read_excerpt(&mut response).await;
        Ok(match status.is_success() {
            true => Outcome::Delivered { code, excerpt },
            false => Outcome::Failed {
                code: Some(code),
                error: match status.is_redirection() {
                    true => format!("HTTP {code}: redirects are not followed"),
                    false => format!("HTTP {code}"),
                },
                excerpt,
            },
        })
    }

    async fn record(
        &self,
        delivery: &webhook_delivery::Model,
        outcome: Outcome,
    ) -> Result<(), DbErr> {
        let now = Utc::now();
        let ours = || {
            webhook_delivery::Entity::update_many()
                .col_expr(
                    webhook_delivery::Column::LeaseOwner,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    webhook_delivery::Column::LeaseExpiresAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
                .filter(webhook_delivery::Column::Id.eq(delivery.id))
                .filter(webhook_delivery::Column::State.eq(WebhookDeliveryState::Delivering))
                .filter(webhook_delivery::Column::LeaseOwner.eq(self.worker.as_str()))
        };
        match outcome {
            Outcome::Skipped => {
                // Not tried: back to the queue without using up a try.
                ours()
                    .col_expr(
                        webhook_delivery::Column::State,
                        Expr::value(WebhookDeliveryState::Pending),
                    )
                    .col_expr(
                        webhook_delivery::Column::Attempts,
                        Expr::col(webhook_delivery::Column::Attempts).sub(1),
                    )
                    .exec(&self.db)
                    .await?;
            }
            Outcome::Delivered { code, excerpt } => {
                ours()
                    .col_expr(
                        webhook_delivery::Column::State,
                        Expr::value(WebhookDeliveryState::Delivered),
                    )
                    .col_expr(webhook_delivery::Column::DeliveredAt, Expr::value(now))
                    .col_expr(
                        webhook_delivery::Column::LastResponseCode,
                        Expr::value(code),
                    )
                    .col_expr(
                        webhook_delivery::Column::LastError,
                        Expr::value(Option::<String>::None),
                    )
                    .col_expr(
                        webhook_delivery::Column::LastResponseExcerpt,
                        Expr::value(excerpt),
                    )
                    .exec(&self.db)
                    .await?;
                webhook_endpoint::Entity::update_many()
                    .col_expr(
                        webhook_endpoint::Column::FailingSince,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .filter(webhook_endpoint::Column::Id.eq(delivery.endpoint_id))
                    .filter(webhook_endpoint::Column::FailingSince.is_not_null())
                    .exec(&self.db)
                    .await?;
            }
            Outcome::Failed {
                code,
                error,
                excerpt,
            } => {
                let tries = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
                let (state, next) = match tries >= self.settings.max_attempts {
                    true => (WebhookDeliveryState::Failed, now),
                    false => (
                        WebhookDeliveryState::Pending,
                        now + backoff(&self.settings, tries),
                    ),
                };
                tracing::info!(
                    delivery_id = %delivery.id,
                    endpoint_id = %delivery.endpoint_id,
                    attempts = delivery.attempts,
                    code,
                    %error,
                    "webhook delivery failed"
                );
                ours()
                    .col_expr(webhook_delivery::Column::State, Expr::value(state))
                    .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
                    .col_expr(
                        webhook_delivery::Column::LastResponseCode,
                        Expr::value(code),
                    )
                    .col_expr(
                        webhook_delivery::Column::LastError,
                        Expr::value(error.clone()),
                    )
                    .col_expr(
                        webhook_delivery::Column::LastResponseExcerpt,
                        Expr::value(excerpt),
                    )
                    .exec(&self.db)
                    .await?;
                self.note_failure(delivery.endpoint_id, &error, now).await?;
            }
        }
        Ok(())
    }

    /// Marks the endpoint failing (if it was not), and disables it once it has been failing for
    /// longer than allowed.
    async fn note_failure(
        &self,
        endpoint_id: Uuid,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::FailingSince, Expr::value(now))
            .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
            .filter(webhook_endpoint::Column::FailingSince.is_null())
            .exec(&self.db)
            .await?;
        let allowed = i64::try_from(self.settings.disable_after_secs).unwrap_or(i64::MAX / 2000);
        let cutoff = now - chrono::Duration::seconds(allowed);
        let Some(endpoint) = webhook_endpoint::Entity::find_by_id(endpoint_id)
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .filter(webhook_endpoint::Column::FailingSince.lte(cutoff))
            .one(&self.db)
            .await?
        else {
            return Ok(());
        };
        let since = endpoint
            .failing_since
            .map_or_else(String::new, |at| at.to_rfc3339());
        let reason = format!(
            "every delivery has failed since {since} (last error: {error}); fix the endpoint, \
             then enable it again"
        );
        let disabled = webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::Enabled, Expr::value(false))
            .col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value(reason),
            )
            .col_expr(webhook_endpoint::Column::DisabledAt, Expr::value(now))
            .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .exec(&self.db)
            .await?;
        if disabled.rows_affected > 0 {
            tracing::warn!(%endpoint_id, "webhook endpoint disabled after failing for too long");
        }
        Ok(())
    }
}

fn failed(code: Option<i32>, error: String) -> Outcome {
    Outcome::Failed {
        code,
        error,
        excerpt: None,
    }
}

/// The delay before the try after `tries` tries: the base doubled per try, capped, plus up to
/// 25% jitter so that endpoints coming back are not hit by every retry at once.
pub fn backoff(settings: &OutboundWebhooks, tries: u32) -> chrono::Duration {
    let doubled = settings
        .retry_base_ms
        .saturating_mul(1u64 << std::cmp::min(tries.saturating_sub(1), 40));
    let delay = std::cmp::min(doubled, settings.retry_max_delay_ms);
    let jitter = rand::rng().random_range(0..=delay / 4);
    chrono::Duration::milliseconds(i64::try_from(delay + jitter).unwrap_or(i64::MAX / 2))
}

/// A failed request in words, without its URL (whose query may hold the receiver's token).
fn describe(error: reqwest::Error, timeout_ms: u64) -> String {
    if let Some(refused) = address::refused_in(&error) {
        return refused.to_string();
    }
    let text = if error.is_timeout() {
        format!("timed out after {timeout_ms} ms")
    } else {
        let error = error.without_url();
        let mut text = error.to_string();
        let mut cause = std::error::Error::source(&error);
        while let Some(inner) = cause {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            cause = inner.source();
        }
        text
    };
    truncate(&text, MAX_ERROR)
}

/// The first bytes of the answer, as text; the rest is never read.
async fn read_excerpt(response: &mut reqwest::Response) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    if bytes.is_empty() {
        return None;
    }
    bytes.truncate(EXCERPT_BYTES);
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_spans_more_than_a_day_by_default() {
        let settings = OutboundWebhooks::default();
        let mut previous_max = chrono::Duration::zero();
        let mut least_total = chrono::Duration::zero();
        for tries in 1..settings.max_attempts {
            let delay = backoff(&settings, tries);
            let base = std::cmp::min(
                settings.retry_base_ms.saturating_mul(1 << (tries - 1)),
                settings.retry_max_delay_ms,
            );
            let base = chrono::Duration::milliseconds(base as i64);
            assert!(
                delay >= base && delay <= base + base / 4,
                "{tries}: {delay}"
            );
            assert!(
                base >= previous_max
                    || base == chrono::Duration::milliseconds(settings.retry_max_delay_ms as i64)
            );
            previous_max = base;
            least_total += base;
        }
        assert!(least_total >= chrono::Duration::hours(24), "{least_total}");
    }

    #[test]
    fn excerpts_and_errors_are_bounded() {
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("ab", 3), "ab");
        assert_eq!(truncate("ééé", 2), "éé…");
    }
}
