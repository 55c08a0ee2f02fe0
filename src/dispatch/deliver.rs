//! One claimed attempt: build the Cloud API request, respect the sender's throughput and the pair
//! rate to its recipient, send (or let the sandbox answer), and record what happened with guarded
//! updates.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{
    contact, message, send_attempt,
    sender::{self, SenderKind, SenderStatus},
};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, sea_query::Expr};
use uuid::Uuid;

use tokio::sync::Semaphore;

use super::{
    Dispatcher,
    pair_rate::{self, PairSlot},
    sandbox,
};
use crate::{
    domain::MessageContent,
    error::{AppError, ErrorCode},
    events::UnitOfWork,
    message_status, ratelimit, send_queue,
    whatsapp::{
        client::{Accepted, SendFailure},
        errors::{self, Decision},
        request::MessageRequest,
        sandbox::accept,
    },
};

/// How an attempt ends this round.
enum Outcome {
    /// WhatsApp (or the sandbox, which then reports statuses like Meta would) took it.
    Accepted {
        accepted: Accepted,
        by_sandbox: bool,
    },
    /// Not sent this time: back to the queue for `at`. `counts` is false when it was never tried
    /// (throttled), so that it does not use up an attempt.
    Retry {
        at: DateTime<Utc>,
        counts: bool,
        reason: String,
    },
    Failed {
        code: ErrorCode,
        message: String,
        disconnect_sender: bool,
    },
}

impl Dispatcher {
    /// Delivers `attempt`, taking one of the `in_flight` slots for the request itself, then records
    /// the outcome.
    pub(super) async fn deliver(&self, attempt: send_attempt::Model, in_flight: &Semaphore) {
        let outcome = match self.try_deliver(&attempt, in_flight).await {
            Ok(outcome) => outcome,
            // Our own failure before anything was sent (database, a sealed token that will not
            // open): try again later.
            Err(error) => {
                tracing::warn!(send_attempt_id = %attempt.id, ?error, "delivery could not start");
                Outcome::Retry {
                    at: Utc::now() + chrono::Duration::seconds(5),
                    counts: true,
                    reason: "internal error before sending".into(),
                }
            }
        };
        self.record_while_leased(&attempt, &outcome).await;
    }

    /// Records `outcome`, trying again while the database is unavailable (restarting, say) and
    /// the attempt is still ours: an outcome not recorded by the end of the lease is lost, and
    /// the attempt ends `delivery_unknown` even when WhatsApp took it.
    async fn record_while_leased(&self, attempt: &send_attempt::Model, outcome: &Outcome) {
        let lease_ends = attempt.lease_expires_at.unwrap_or_else(Utc::now);
        let mut pause = Duration::from_millis(100);
        loop {
            let error = match self.record(attempt, outcome).await {
                Ok(()) => return,
                Err(error) => error,
            };
            let retry =
                matches!(error, AppError::Unavailable(_)) && Utc::now() + pause < lease_ends;
            if !retry {
                tracing::error!(send_attempt_id = %attempt.id, ?error, "recording a delivery failed");
                return;
            }
            tracing::warn!(send_attempt_id = %attempt.id, ?error,
                "recording a delivery failed; retrying while the attempt is leased");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    async fn try_deliver(
        &self,
        attempt: &send_attempt::Model,
        in_flight: &Semaphore,
    ) -> Result<Outcome, AppError> {
        let missing = || anyhow::anyhow!("send attempt {} lost its rows", attempt.id);
        // One round trip's wait instead of three: a send holds its slot meanwhile.
        let (message_and_contact, sender) = tokio::try_join!(
            message::Entity::find_by_id(attempt.message_id)
                .find_also_related(contact::Entity)
                .one(&self.db),
            sender::Entity::find_by_id(attempt.sender_id).one(&self.db),
        )?;
        let (message, contact) = message_and_contact.ok_or_else(missing)?;
        let contact = contact.ok_or_else(missing)?;
        let sender = sender.ok_or_else(missing)?;
        if sender.status == SenderStatus::Disconnected {
            return Ok(Outcome::Failed {
                code: ErrorCode::WhatsappNotConnected,
                message: "the sender is disconnected".into(),
                disconnect_sender: false,
            });
        }

        // The sender's throughput, counted across every process in the database.
        let rate = u32::try_from(std::cmp::max(sender.messages_per_second, 1)).unwrap_or(1);
        let now = Utc::now();
        let window = ratelimit::hit_window(&self.db, sender.id, rate, 1, now).await?;
        if !window.allowed {
            let at = DateTime::from_timestamp(window.reset_at, 0).unwrap_or(now);
            return Ok(Outcome::Retry {
                at,
                counts: false,
                reason: "sender throughput".into(),
            });
        }

        let content = MessageContent::from_body(&message.body)
            .map_err(|error| anyhow::anyhow!("stored message body is invalid: {error}"))?;
        let reply_wamid = match message.reply_to_message_id {
            Some(id) => wamid_of(&self.db, id).await?,
            None => None,
        };
        let reaction_wamid = match content.reaction_target() {
            Some(id) => wamid_of(&self.db, id).await?,
            None => None,
        };
        let request = match MessageRequest::new(
            &content,
            &contact.phone,
            reply_wamid.as_deref(),
            reaction_wamid.as_deref(),
        ) {
            Ok(request) => request,
            Err(error) => {
                return Ok(Outcome::Failed {
                    code: ErrorCode::InvalidRequest,
                    message: error.message,
                    disconnect_sender: false,
                });
            }
        };

        // Meta's pair rate, as late as possible before sending so that the gap Meta sees is the
        // gap taken here. A throttled send was never tried: it does not use up an attempt.
        if let Some(gap) = self.pair_spacing()
            && let PairSlot::Busy { until } =
                pair_rate::take_slot(&self.db, sender.id, contact.id, gap, Utc::now()).await?
        {
            return Ok(Outcome::Retry {
                at: until,
                counts: false,
                reason: "pair rate: this recipient was sent to moments ago".into(),
            });
        }

        if sender.kind == SenderKind::Sandbox {
            return Ok(match accept(&contact.phone) {
                Ok(wamid) => Outcome::Accepted {
                    accepted: Accepted {
                        wamid,
                        wa_id: Some(contact.phone.clone()),
                    },
                    by_sandbox: true,
                },
                Err((_, message)) => Outcome::Failed {
                    code: ErrorCode::RecipientNotFound,
                    message,
                    disconnect_sender: false,
                },
            });
        }
        let sealed = sender
            .access_token_encrypted
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("cloud sender {} has no access token", sender.id))?;
        let token = self.secrets.open(sealed)?;
        // Waiting here can make the gap Meta sees to this recipient shorter than the pair spacing
        // by at most one request's latency: far below Meta's seconds-long pair rate.
        let _slot = in_flight
            .acquire()
            .await
            .map_err(|_| anyhow::anyhow!("the dispatcher's slots are closed"))?;
        let sent = self
            .client
            .send_message(
                &sender.phone_number_id,
                &token,
                &request,
                &attempt.id.to_string(),
            )
            .await;
        Ok(match sent {
            Ok(accepted) => Outcome::Accepted {
                accepted,
                by_sandbox: false,
            },
            Err(failure) => self.judge(attempt, &failure),
        })
    }

    /// Turns a failed send into a retry or a final failure.
    fn judge(&self, attempt: &send_attempt::Model, failure: &SendFailure) -> Outcome {
        match errors::decide(failure) {
            Decision::Retry { .. }
                if u32::try_from(attempt.attempts).unwrap_or(u32::MAX) >= errors::MAX_ATTEMPTS =>
            {
                Outcome::Failed {
                    code: ErrorCode::MetaError,
                    message: format!(
                        "gave up after {} attempts: {}",
                        attempt.attempts,
                        describe(failure)
                    ),
                    disconnect_sender: false,
                }
            }
            Decision::Retry { .. } => {
                let attempts = u32::try_from(attempt.attempts).unwrap_or(1);
                let delay = errors::backoff(attempts, &mut rand::rng());
                Outcome::Retry {
                    at: Utc::now()
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(1)),
                    counts: true,
                    reason: describe(failure),
                }
            }
            Decision::Fail {
                code,
                message,
                disconnect_sender,
            } => Outcome::Failed {
                code,
                message,
                disconnect_sender,
            },
        }
    }

    /// Writes the outcome through the send queue's transitions, guarded by the attempt still
    /// being ours and SENDING, with its message's side in the same unit of work.
    async fn record(
        &self,
        attempt: &send_attempt::Model,
        outcome: &Outcome,
    ) -> Result<(), AppError> {
        let now = Utc::now();
        let worker = &self.worker;
        let mut uow = UnitOfWork::begin(&self.db, &self.bus).await?;
        let recorded = match outcome {
            Outcome::Accepted { accepted, .. } => {
                let (wamid, wa_id) = (&accepted.wamid, accepted.wa_id.as_deref());
                let recorded =
                    send_queue::record_accepted(&mut uow, attempt, worker, wamid, wa_id, now)
                        .await?;
                if recorded {
                    message_status::accepted(uow.txn(), attempt.message_id, wamid, now).await?;
                    if let Some(wa_id) = wa_id {
                        learn_wa_id(uow.txn(), attempt.message_id, wa_id).await?;
                    }
                }
                recorded
            }
            Outcome::Retry { at, counts, reason } => {
                send_queue::record_retry(&mut uow, attempt, worker, *at, *counts, reason, now)
                    .await?
            }
            Outcome::Failed {
                code,
                message: text,
                disconnect_sender,
            } => {
                let recorded =
                    send_queue::record_failed(&mut uow, attempt, worker, *code, text, now).await?;
                if recorded {
                    let message_id = attempt.message_id;
                    if *code == ErrorCode::DeliveryUnknown {
                        message_status::delivery_unknown(uow.txn(), message_id, text, now).await?;
                    } else {
                        message_status::failed(uow.txn(), message_id, *code, text, now).await?;
                        if *disconnect_sender {
                            disconnect(uow.txn(), attempt.sender_id, text).await?;
                        }
                    }
                }
                recorded
            }
        };
        uow.commit().await?;

        if !recorded {
            // The lease was lost (expired as `delivery_unknown` meanwhile). What we learnt still
            // settles it when Meta accepted.
            if let Outcome::Accepted { accepted, .. } = outcome {
                let mut uow = UnitOfWork::begin(&self.db, &self.bus).await?;
                send_queue::settle_unknown(&mut uow, attempt.id, &accepted.wamid).await?;
                uow.commit().await?;
            }
            return Ok(());
        }
        if let Outcome::Accepted {
            accepted,
            by_sandbox: true,
        } = outcome
        {
            sandbox::report_statuses(
                self.db.clone(),
                self.bus.clone(),
                attempt.sender_id,
                accepted.wamid.clone(),
                Duration::from_millis(self.config.sandbox_status_delay_ms),
            );
        }
        Ok(())
    }
}

/// The contact of the message `message_id` gets WhatsApp's id for it, unless it has one.
async fn learn_wa_id(
    txn: &impl ConnectionTrait,
    message_id: Uuid,
    wa_id: &str,
) -> Result<(), DbErr> {
    let contact_id = message::Entity::find_by_id(message_id)
        .one(txn)
        .await?
        .map(|message| message.contact_id);
    contact::Entity::update_many()
        .col_expr(contact::Column::WaId, Expr::value(wa_id))
        .filter(contact::Column::Id.eq(contact_id))
        .filter(contact::Column::WaId.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// The sender is disconnected, for `reason`, until it is connected again.
async fn disconnect(
    txn: &impl ConnectionTrait,
    sender_id: Uuid,
    reason: &str,
) -> Result<(), DbErr> {
    sender::Entity::update_many()
        .col_expr(
            sender::Column::Status,
            Expr::value(SenderStatus::Disconnected),
        )
        .col_expr(sender::Column::StatusReason, Expr::value(reason))
        .filter(sender::Column::Id.eq(sender_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// A message's wamid, when it has one.
async fn wamid_of(db: &impl ConnectionTrait, id: uuid::Uuid) -> Result<Option<String>, DbErr> {
    Ok(message::Entity::find_by_id(id)
        .one(db)
        .await?
        .and_then(|message| message.wamid))
}

fn describe(failure: &SendFailure) -> String {
    match failure {
        SendFailure::NotSent(reason) | SendFailure::Unknown(reason) => reason.clone(),
        SendFailure::Meta(error) => format!("Meta error {}: {}", error.code, error.message),
    }
}
