//! Applying one of Meta's deliveries: every change of every entry, routed by
//! `metadata.phone_number_id` to its sender. Statuses move messages forward (and settle
//! `delivery_unknown` sends); inbound messages land in their contact's open conversation.
//! Unknown numbers and unknown wamids are not errors: the delivery stays stored.

use chrono::{DateTime, Utc};
use entity::{message::MessageStatus, sender};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use super::status::{StatusUpdate, apply_status, resolve_unknown_delivery};
use crate::{
    config::Config,
    error::AppError,
    events::EventBus,
    whatsapp::{
        client::{MetaError, SendFailure},
        errors::{Decision, decide},
    },
};

/// Applies a delivery; `Ok(Some(note))` records what was skipped.
pub async fn apply_delivery(
    db: &DatabaseConnection,
    bus: &EventBus,
    config: &Config,
    payload: &Value,
) -> Result<Option<String>, AppError> {
    let mut skipped = Vec::new();
    skipped.extend(apply_template_changes(db, payload).await?);
    let changes = payload["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|entry| entry["changes"].as_array().into_iter().flatten());
    for change in changes {
        let value = &change["value"];
        let Some(phone_number_id) = value["metadata"]["phone_number_id"].as_str() else {
            continue;
        };
        let Some(sender) = sender::Entity::find()
            .filter(sender::Column::PhoneNumberId.eq(phone_number_id))
            .one(db)
            .await?
        else {
            skipped.push(format!("unknown phone_number_id {phone_number_id}"));
            continue;
        };
        for status in value["statuses"].as_array().into_iter().flatten() {
            if let Some(note) = apply_one_status(db, bus, &sender, status).await? {
                skipped.push(note);
            }
        }
        for message in value["messages"].as_array().into_iter().flatten() {
            if let Some(note) =
                super::receive::receive_message(db, bus, config, &sender, value, message).await?
            {
                skipped.push(note);
            }
        }
    }
    Ok((!skipped.is_empty()).then(|| skipped.join("; ")))
}

/// Template status changes (`message_template_status_update`), which name the Business Account
/// by the entry's id instead of a phone number.
async fn apply_template_changes(
    db: &DatabaseConnection,
    payload: &Value,
) -> Result<Vec<String>, AppError> {
    let mut notes = Vec::new();
    for entry in payload["entry"].as_array().into_iter().flatten() {
        let waba_id = entry["id"].as_str().unwrap_or_default();
        for change in entry["changes"].as_array().into_iter().flatten() {
            if change["field"] != "message_template_status_update" {
                continue;
            }
            let value = &change["value"];
            notes.extend(crate::templates::apply_status_update(db, waba_id, value).await?);
        }
    }
    Ok(notes)
}

fn unix_time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|text| text.parse::<i64>().ok())
        .or_else(|| value.as_i64())
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .unwrap_or_else(Utc::now)
}

/// Meta's error on a failed status, as the contract's code and Meta's words.
fn failure_of(status: &Value) -> (String, String) {
    let error = &status["errors"][0];
    let meta = MetaError {
        http_status: 200,
        code: error["code"].as_i64().unwrap_or(0),
        subcode: None,
        message: error["title"]
            .as_str()
            .or_else(|| error["message"].as_str())
            .unwrap_or("failed")
            .to_owned(),
        details: error["error_data"]["details"].as_str().map(str::to_owned),
        fbtrace_id: None,
    };
    match decide(&SendFailure::Meta(meta.clone())) {
        Decision::Fail { code, message, .. } => (code.as_str().to_owned(), message),
        Decision::Retry { .. } => ("meta_error".to_owned(), meta.message),
    }
}

async fn apply_one_status(
    db: &DatabaseConnection,
    bus: &EventBus,
    sender: &sender::Model,
    status: &Value,
) -> Result<Option<String>, AppError> {
    let Some(wamid) = status["id"].as_str() else {
        return Ok(Some("status without id".into()));
    };
    let kind = match status["status"].as_str() {
        Some("sent") => MessageStatus::Sent,
        Some("delivered") => MessageStatus::Delivered,
        Some("read") => MessageStatus::Read,
        Some("failed") => MessageStatus::Failed,
        other => return Ok(Some(format!("status {other:?} not applied"))),
    };
    // A send that ended delivery_unknown carries its attempt id back: Meta has it after all.
    if let Some(attempt_id) = status["biz_opaque_callback_data"]
        .as_str()
        .and_then(|data| Uuid::parse_str(data).ok())
    {
        resolve_unknown_delivery(db, bus, attempt_id, wamid).await?;
    }
    let update = StatusUpdate {
        status: kind,
        at: unix_time(&status["timestamp"]),
        error: (kind == MessageStatus::Failed).then(|| failure_of(status)),
    };
    match apply_status(db, bus, sender.id, wamid, update).await? {
        Some(_) => Ok(None),
        None => Ok(Some(format!("unknown wamid {wamid}"))),
    }
}
