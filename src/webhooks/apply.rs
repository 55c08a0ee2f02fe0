//! Applying one of Meta's deliveries: every change of every entry, routed by
//! `metadata.phone_number_id` to its sender. Statuses move messages forward (and settle
//! `delivery_unknown` sends); inbound messages land in their contact's open conversation.
//! Unknown numbers and unknown wamids are not errors: the delivery stays stored.

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use entity::{
    message::{self, MessageStatus},
    sender,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::receive::Reply;
use crate::{
    error::AppError,
    events::UnitOfWork,
    message_status::{StatusUpdate, apply_status, lock_messages, status_applied, write_statuses},
    send_queue::settle_unknown,
    services::Services,
    whatsapp::{
        client::{MetaError, SendFailure},
        errors::{Decision, decide},
        webhook::{ChangeValue, Delivery, Message, Status, TemplateStatusUpdate, Timestamp},
    },
};

/// A delivery routed: each status and inbound message with the sender it is for, and template
/// status changes with their Business Account.
pub struct Routed<'a> {
    changes: Vec<Change<'a>>,
    /// `message_template_status_update` changes, with the WABA id of their entry.
    templates: Vec<(&'a str, &'a TemplateStatusUpdate)>,
    /// What cannot be applied (unknown numbers), kept as the delivery's note.
    skipped: Vec<String>,
}

/// One status or inbound message of a delivery.
struct Change<'a> {
    sender: sender::Model,
    kind: ChangeKind<'a>,
}

enum ChangeKind<'a> {
    Status(&'a Status),
    /// An inbound message and the change value around it (which names the customer's profile).
    Message {
        value: &'a ChangeValue,
        message: &'a Message,
    },
}

impl<'a> Routed<'a> {
    /// Routes every change of every entry of `delivery` by `metadata.phone_number_id`, looking
    /// senders up in `senders` first and keeping there those it reads: deliveries read together
    /// mostly name one number.
    pub async fn read(
        db: &impl ConnectionTrait,
        delivery: &'a Delivery,
        senders: &mut Vec<sender::Model>,
    ) -> Result<Self, AppError> {
        let mut routed = Routed {
            changes: Vec::new(),
            templates: Vec::new(),
            skipped: Vec::new(),
        };
        // Template status changes name the Business Account by the entry's id instead of a
        // phone number.
        for (entry, change) in delivery.changes() {
            if let Some(update) = change.template_status_update() {
                let waba_id = entry.id.as_deref().unwrap_or_default();
                routed.templates.push((waba_id, update));
            }
        }
        for (_, change) in delivery.changes() {
            let value = &change.value;
            let Some(phone_number_id) = value.metadata.phone_number_id.as_deref() else {
                continue;
            };
            let known = senders
                .iter()
                .find(|sender| sender.phone_number_id == phone_number_id)
                .cloned();
            let sender = match known {
                Some(sender) => sender,
                None => match sender::Entity::find()
                    .filter(sender::Column::PhoneNumberId.eq(phone_number_id))
                    .one(db)
                    .await?
                {
                    Some(sender) => {
                        senders.push(sender.clone());
                        sender
                    }
                    None => {
                        routed
                            .skipped
                            .push(format!("unknown phone_number_id {phone_number_id}"));
                        continue;
                    }
                },
            };
            for status in &value.statuses {
                routed.changes.push(Change {
                    sender: sender.clone(),
                    kind: ChangeKind::Status(status),
                });
            }
            for message in &value.messages {
                routed.changes.push(Change {
                    sender: sender.clone(),
                    kind: ChangeKind::Message { value, message },
                });
            }
        }
        Ok(routed)
    }

    /// The workspace of the first sender the delivery names, if it names a known one.
    pub fn workspace_id(&self) -> Option<Uuid> {
        self.changes
            .first()
            .map(|change| change.sender.workspace_id)
    }

    /// Whether applying it touches at most one message: then it can be applied in the
    /// transaction that stores it. Several messages in one transaction could deadlock on
    /// Postgres against another delivery locking them in another order (each also takes its
    /// workspace's event number), so those are applied one transaction each.
    pub fn is_single(&self) -> bool {
        self.changes.len() + self.templates.len() <= 1
    }

    /// What a single change locks, as text: the wamid of a status, the customer of an inbound
    /// message. Deliveries applied together are applied in this order, so that two transactions
    /// applying them lock rows in one order and never wait for each other in a cycle.
    pub fn lock_key(&self) -> &str {
        let Some(change) = self.changes.first() else {
            return "";
        };
        let key = match change.kind {
            ChangeKind::Status(status) => &status.id,
            ChangeKind::Message { message, .. } => &message.from,
        };
        key.as_deref().unwrap_or_default()
    }

    /// Applies every change in `uow`, gathering in `applied` what to write and do once every
    /// change is applied; `Ok(Some(note))` records what was skipped.
    pub async fn apply_in(
        &self,
        uow: &mut UnitOfWork<'_>,
        applied: &mut Applied,
    ) -> Result<Option<String>, AppError> {
        let mut skipped = self.apply_templates(uow.txn()).await?;
        for change in &self.changes {
            skipped.extend(change.apply_in(uow, applied).await?);
        }
        Ok(note(skipped))
    }

    /// Applies every change in a transaction of its own, for a delivery already stored (the
    /// transactions are redoable: see [`UnitOfWork::begin_redoable`]).
    pub async fn apply_each(&self, services: &Services) -> Result<Option<String>, AppError> {
        let (db, bus) = (&services.db, &services.events);
        let mut skipped = self.apply_templates(db).await?;
        for change in &self.changes {
            let mut uow = UnitOfWork::begin_redoable(db, bus).await?;
            let mut applied = Applied::default();
            let note = change.apply_in(&mut uow, &mut applied).await?;
            applied.commit(uow, services).await?;
            skipped.extend(note);
        }
        Ok(note(skipped))
    }

    /// Applies the template status changes; what was skipped so far, these included.
    async fn apply_templates(&self, db: &impl ConnectionTrait) -> Result<Vec<String>, AppError> {
        let mut skipped = self.skipped.clone();
        for (waba_id, update) in &self.templates {
            skipped.extend(crate::templates::apply_status_update(db, waba_id, update).await?);
        }
        Ok(skipped)
    }
}

/// A delivery's note: what was skipped, if anything.
fn note(skipped: Vec<String>) -> Option<String> {
    (!skipped.is_empty()).then(|| skipped.join("; "))
}

/// What applying changes leaves to do: the statuses of locked messages to write, and the inbound
/// messages the sender's bot may answer once the unit of work commits (through the send path,
/// which writes in a transaction of its own).
#[derive(Default)]
pub struct Applied {
    pub replies: Vec<Reply>,
    /// Messages locked in this transaction as they are now, by sender and wamid, and whether
    /// their changes are still to be written.
    locked: HashMap<(Uuid, String), (message::Model, bool)>,
}

impl Applied {
    /// Locks the messages that the statuses of `deliveries` name, with one statement, before
    /// they are applied.
    pub async fn lock_statuses<'d>(
        &mut self,
        uow: &UnitOfWork<'_>,
        deliveries: impl Iterator<Item = &'d Routed<'d>>,
    ) -> Result<(), AppError> {
        let (mut senders, mut wamids) = (Vec::new(), Vec::new());
        for change in deliveries.flat_map(|delivery| &delivery.changes) {
            if let ChangeKind::Status(status) = change.kind
                && let Some(wamid) = status.id.as_deref()
            {
                senders.push(change.sender.id);
                wamids.push(wamid);
            }
        }
        if wamids.is_empty() {
            return Ok(());
        }
        senders.sort_unstable();
        senders.dedup();
        for message in lock_messages(uow.txn(), senders, wamids).await? {
            if let Some(wamid) = message.wamid.clone() {
                self.locked
                    .insert((message.sender_id, wamid), (message, false));
            }
        }
        Ok(())
    }

    /// Writes what is left, commits the unit of work, then queues the auto-replies.
    pub async fn commit<'a>(
        self,
        mut uow: UnitOfWork<'a>,
        services: &'a Services,
    ) -> Result<(), AppError> {
        self.record(&mut uow, services).await?;
        Ok(uow.commit().await?)
    }

    /// Writes the statuses applied to locked messages in `uow`, and has it queue the auto-replies
    /// once it commits.
    pub async fn record<'a>(
        self,
        uow: &mut UnitOfWork<'a>,
        services: &'a Services,
    ) -> Result<(), AppError> {
        let changed = self.locked.into_values().filter(|(_, changed)| *changed);
        write_statuses(uow.txn(), changed.map(|(message, _)| message).collect()).await?;
        for reply in self.replies {
            uow.after_commit(reply.send(services));
        }
        Ok(())
    }
}

impl Change<'_> {
    async fn apply_in(
        &self,
        uow: &mut UnitOfWork<'_>,
        applied: &mut Applied,
    ) -> Result<Option<String>, AppError> {
        match self.kind {
            ChangeKind::Status(status) => {
                apply_one_status(uow, &self.sender, status, applied).await
            }
            ChangeKind::Message { value, message } => {
                super::receive::receive_message(uow, &self.sender, value, message, applied).await
            }
        }
    }
}

/// When a status happened: Meta's unix seconds, or now when they are unreadable.
fn unix_time(timestamp: Option<&Timestamp>) -> DateTime<Utc> {
    let seconds = match timestamp {
        Some(Timestamp::Text(text)) => text.parse::<i64>().ok(),
        Some(Timestamp::Seconds(seconds)) => Some(*seconds),
        Some(Timestamp::Unreadable) | None => None,
    };
    seconds
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .unwrap_or_else(Utc::now)
}

/// Meta's error on a failed status, as the contract's code and Meta's words.
fn failure_of(status: &Status) -> (String, String) {
    let error = status.errors.first();
    let meta = MetaError {
        http_status: 200,
        code: error.and_then(|error| error.code).unwrap_or(0),
        subcode: None,
        message: error
            .and_then(|error| error.title.as_deref().or(error.message.as_deref()))
            .unwrap_or("failed")
            .to_owned(),
        details: error.and_then(|error| error.error_data.details.clone()),
        fbtrace_id: None,
    };
    match decide(&SendFailure::Meta(meta.clone())) {
        Decision::Fail { code, message, .. } => (code.as_str().to_owned(), message),
        Decision::Retry { .. } => ("meta_error".to_owned(), meta.message),
    }
}

async fn apply_one_status(
    uow: &mut UnitOfWork<'_>,
    sender: &sender::Model,
    status: &Status,
    applied: &mut Applied,
) -> Result<Option<String>, AppError> {
    let Some(wamid) = status.id.as_deref() else {
        return Ok(Some("status without id".into()));
    };
    let kind = match status.status.as_deref() {
        Some("sent") => MessageStatus::Sent,
        Some("delivered") => MessageStatus::Delivered,
        Some("read") => MessageStatus::Read,
        Some("failed") => MessageStatus::Failed,
        other => return Ok(Some(format!("status {other:?} not applied"))),
    };
    let update = StatusUpdate {
        status: kind,
        at: unix_time(status.timestamp.as_ref()),
        error: (kind == MessageStatus::Failed).then(|| failure_of(status)),
    };
    let key = (sender.id, wamid.to_owned());
    let message = match applied.locked.remove(&key) {
        // Known by its wamid: its send was accepted, so there is nothing to resolve. Written
        // with the batch's other messages, before its events are recorded.
        Some((current, pending)) => {
            let (message, changed) = status_applied(current, update, uow);
            applied.locked.insert(key, (message, pending || changed));
            return Ok(None);
        }
        None => {
            // A send that ended delivery_unknown carries its attempt id back: Meta has it
            // after all.
            if let Some(attempt_id) = status
                .biz_opaque_callback_data
                .as_deref()
                .and_then(|data| Uuid::parse_str(data).ok())
            {
                settle_unknown(uow, attempt_id, wamid).await?;
            }
            apply_status(uow, sender.id, wamid, update).await?
        }
    };
    let Some(message) = message else {
        return Ok(Some(format!("unknown wamid {wamid}")));
    };
    applied.locked.insert(key, (message, false));
    Ok(None)
}
