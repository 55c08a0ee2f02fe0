//! `/webhooks/whatsapp`: Meta's verification handshake (GET) and event deliveries (POST).
//!
//! A POST is checked against `X-Hub-Signature-256` over the raw bytes, in constant time, before
//! anything is parsed or stored; a bad or missing signature is 401 and changes nothing. A good one
//! is stored as it came (`webhook_events`, once per distinct body: Meta's retries are duplicates)
//! before it is applied and before the 200, so a crash after the answer loses nothing: the
//! server re-applies stored deliveries that were never marked processed.

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use entity::{new_id, sender, webhook_event};
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::OnConflict,
};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::apply::apply_delivery;
use crate::{app::AppState, config::Config, error::AppError, events::EventBus};

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
pub async fn verify(State(state): State<AppState>, Query(handshake): Query<Handshake>) -> Response {
    let expected = state.config.webhook_verify_token.as_ref();
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
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|value| value.to_str().ok());
    let valid = match &state.config.app_secret {
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
    match store(&state.db, &body).await {
        Ok(Some(event_id)) => {
            if let Err(error) = process(&state.db, &state.events, &state.config, event_id).await {
                // Stored: the retry loop applies it later.
                tracing::warn!(%event_id, ?error, "webhook stored but not applied yet");
            }
            (StatusCode::OK, "OK").into_response()
        }
        // A duplicate of a delivery already stored.
        Ok(None) => (StatusCode::OK, "OK").into_response(),
        Err(error) => error.into_response(),
    }
}

/// Stores a delivery once; `None` when the same body was stored before.
async fn store(db: &DatabaseConnection, body: &[u8]) -> Result<Option<Uuid>, AppError> {
    let payload = String::from_utf8_lossy(body).into_owned();
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let phone_number_id = parsed.as_ref().and_then(|value| {
        value["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
            .as_str()
            .map(str::to_owned)
    });
    let workspace_id = match &phone_number_id {
        Some(id) => sender::Entity::find()
            .filter(sender::Column::PhoneNumberId.eq(id.as_str()))
            .one(db)
            .await?
            .map(|sender| sender.workspace_id),
        None => None,
    };
    let id = new_id();
    let inserted = webhook_event::Entity::insert(webhook_event::ActiveModel {
        id: Set(id),
        workspace_id: Set(workspace_id),
        phone_number_id: Set(phone_number_id),
        payload_hash: Set(hex::encode(Sha256::digest(body))),
        payload: Set(payload),
        received_at: Set(Utc::now()),
        processed_at: Set(None),
        process_attempts: Set(0),
        process_error: Set(None),
    })
    .on_conflict(
        OnConflict::column(webhook_event::Column::PayloadHash)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok((inserted == 1).then_some(id))
}

/// Applies a stored delivery and marks it processed (or records why it could not be).
pub async fn process(
    db: &DatabaseConnection,
    bus: &EventBus,
    config: &Config,
    event_id: Uuid,
) -> Result<(), AppError> {
    let Some(event) = webhook_event::Entity::find_by_id(event_id).one(db).await? else {
        return Ok(());
    };
    let outcome = match serde_json::from_str::<serde_json::Value>(&event.payload) {
        Ok(payload) => apply_delivery(db, bus, config, &payload).await,
        // Signed by Meta yet not JSON: keep it, never retry it.
        Err(error) => Ok(Some(format!("not JSON: {error}"))),
    };
    let mut update: webhook_event::ActiveModel = event.into();
    update.process_attempts = Set(update.process_attempts.as_ref() + 1);
    match &outcome {
        Ok(note) => {
            update.processed_at = Set(Some(Utc::now()));
            update.process_error = Set(note.clone());
        }
        Err(error) => update.process_error = Set(Some(format!("{error:?}"))),
    }
    sea_orm::ActiveModelTrait::update(update, db).await?;
    outcome.map(drop)
}

/// Re-applies deliveries stored but never processed (a crash, a database hiccup), oldest first;
/// gives up on one after a few tries, keeping it for inspection.
pub async fn process_pending(
    db: &DatabaseConnection,
    bus: &EventBus,
    config: &Config,
) -> Result<(), AppError> {
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
        if let Err(error) = process(db, bus, config, event.id).await {
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
