//! Managing a workspace's outbound webhook endpoints and redelivering their events. Every
//! function takes the caller's workspace: a row of another workspace is `not_found`, exactly like
//! a missing one.

use chrono::Utc;
use entity::{
    WorkspaceScoped, new_id,
    webhook_delivery::{self, WebhookDeliveryState},
    webhook_endpoint,
};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, sea_query::Expr,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::address::EndpointUrl;
use crate::{db::ServerSecrets, error::AppError, events::EventKind};

/// Endpoints one workspace may register.
pub const MAX_ENDPOINTS: u64 = 20;
/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 500;

fn not_found() -> AppError {
    AppError::not_found("webhook endpoint")
}

/// What a client asks for when registering or changing an endpoint.
#[derive(Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub events: Option<Vec<EventKind>>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
}

struct Checked {
    url: Option<EndpointUrl>,
    event_mask: Option<i64>,
    description: Option<Option<String>>,
}

fn check(changes: EndpointChanges, allow_loopback: bool) -> Result<Checked, AppError> {
    let url = changes
        .url
        .map(|url| EndpointUrl::parse(url.trim(), allow_loopback).map_err(AppError::invalid))
        .transpose()?;
    let event_mask = match changes.events {
        Some(events) if events.is_empty() => {
            return Err(AppError::invalid(
                "events must name at least one event type",
            ));
        }
        Some(events) => Some(EventKind::mask_of(&events)),
        None => None,
    };
    let description = match changes.description {
        Some(Some(text)) if text.chars().count() > MAX_DESCRIPTION => {
            return Err(AppError::invalid(format!(
                "description must be at most {MAX_DESCRIPTION} characters"
            )));
        }
        Some(Some(text)) if text.trim().is_empty() => Some(None),
        other => other,
    };
    Ok(Checked {
        url,
        event_mask,
        description,
    })
}

/// A new signing secret: `whsec_` and 32 random bytes in hex. Receivers use the whole string,
/// as shown, as the HMAC key.
fn new_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("whsec_{}", hex::encode(bytes)))
}

/// Registers an endpoint; returns it with its signing secret, shown this once.
pub async fn create(
    db: &DatabaseConnection,
    secrets: &ServerSecrets,
    allow_loopback: bool,
    workspace_id: Uuid,
    changes: EndpointChanges,
) -> Result<(webhook_endpoint::Model, SecretString), AppError> {
    if changes.url.is_none() || changes.events.is_none() {
        return Err(AppError::invalid("url and events are required"));
    }
    let checked = check(changes, allow_loopback)?;
    let registered = webhook_endpoint::Entity::find_in_workspace(workspace_id)
        .count(db)
        .await?;
    if registered >= MAX_ENDPOINTS {
        return Err(AppError::invalid(format!(
            "a workspace has at most {MAX_ENDPOINTS} webhook endpoints"
        )));
    }
    let secret = new_secret();
    let now = Utc::now();
    let endpoint = webhook_endpoint::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        url: Set(checked
            .url
            .map(|url| url.as_str().to_owned())
            .unwrap_or_default()),
        description: Set(checked.description.flatten()),
        event_mask: Set(checked.event_mask.unwrap_or_default()),
        secret_encrypted: Set(secrets.seal(secret.expose_secret())?),
        enabled: Set(true),
        disabled_reason: Set(None),
        disabled_at: Set(None),
        failing_since: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok((endpoint, secret))
}

async fn find(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<webhook_endpoint::Model, AppError> {
    webhook_endpoint::Entity::find_by_id_in_workspace(workspace_id, id)
        .one(db)
        .await?
        .ok_or_else(not_found)
}

/// Changes an endpoint's URL, events or description.
pub async fn update(
    db: &DatabaseConnection,
    allow_loopback: bool,
    workspace_id: Uuid,
    id: Uuid,
    changes: EndpointChanges,
) -> Result<webhook_endpoint::Model, AppError> {
    let checked = check(changes, allow_loopback)?;
    let endpoint = find(db, workspace_id, id).await?;
    let mut row: webhook_endpoint::ActiveModel = endpoint.into();
    if let Some(url) = checked.url {
        row.url = Set(url.as_str().to_owned());
    }
    if let Some(mask) = checked.event_mask {
        row.event_mask = Set(mask);
    }
    if let Some(description) = checked.description {
        row.description = Set(description);
    }
    row.updated_at = Set(Utc::now());
    Ok(row.update(db).await?)
}

/// Enables an endpoint (clearing why it was disabled) or disables it: a disabled endpoint is
/// sent nothing, and events that happen meanwhile are not queued for it.
pub async fn set_enabled(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    id: Uuid,
    enabled: bool,
) -> Result<webhook_endpoint::Model, AppError> {
    let endpoint = find(db, workspace_id, id).await?;
    if endpoint.enabled == enabled {
        return Ok(endpoint);
    }
    let now = Utc::now();
    let mut row: webhook_endpoint::ActiveModel = endpoint.into();
    row.enabled = Set(enabled);
    row.failing_since = Set(None);
    match enabled {
        true => {
            row.disabled_reason = Set(None);
            row.disabled_at = Set(None);
        }
        false => {
            row.disabled_reason = Set(Some("disabled by the workspace".into()));
            row.disabled_at = Set(Some(now));
        }
    }
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// Deletes an endpoint and its delivery log.
pub async fn delete(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<webhook_endpoint::Model, AppError> {
    let endpoint = find(db, workspace_id, id).await?;
    webhook_endpoint::Entity::delete_by_id(endpoint.id)
        .exec(db)
        .await?;
    Ok(endpoint)
}

/// Replaces an endpoint's signing secret; the new one is returned this once and signs every
/// delivery from now on.
pub async fn rotate_secret(
    db: &DatabaseConnection,
    secrets: &ServerSecrets,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<(webhook_endpoint::Model, SecretString), AppError> {
    let endpoint = find(db, workspace_id, id).await?;
    let secret = new_secret();
    let mut row: webhook_endpoint::ActiveModel = endpoint.into();
    row.secret_encrypted = Set(secrets.seal(secret.expose_secret())?);
    row.updated_at = Set(Utc::now());
    Ok((row.update(db).await?, secret))
}

/// Sends a delivery again, now, with a fresh schedule of retries and the same event id.
pub async fn redeliver(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<webhook_delivery::Model, AppError> {
    let delivery = webhook_delivery::Entity::find_by_id_in_workspace(workspace_id, id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("webhook delivery"))?;
    let endpoint = find(db, workspace_id, delivery.endpoint_id).await?;
    if !endpoint.enabled {
        return Err(AppError::invalid(
            "the endpoint is disabled: enable it before redelivering",
        ));
    }
    if delivery.state == WebhookDeliveryState::Delivering {
        return Err(AppError::invalid("the delivery is being sent right now"));
    }
    let now = Utc::now();
    // Guarded by the state read above, so that a worker that claimed it meanwhile keeps it.
    let updated = webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::State,
            Expr::value(WebhookDeliveryState::Pending),
        )
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(0))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .filter(webhook_delivery::Column::State.eq(delivery.state))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(AppError::invalid("the delivery is being sent right now"));
    }
    webhook_delivery::Entity::find_by_id(delivery.id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("webhook delivery"))
}
