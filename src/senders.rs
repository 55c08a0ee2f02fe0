//! Senders: connecting WhatsApp Business numbers (Cloud API) or sandbox numbers to a workspace.
//! Access tokens are sealed with the server's secret key before they reach the database.

use chrono::Utc;
use entity::{
    new_id, sender,
    sender::{SenderKind, SenderStatus},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, SqlErr};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::{
    db::ServerSecrets,
    domain::{Name, Phone},
    error::{AppError, ErrorCode},
};

const MAX_META_ID_LEN: usize = 64;
const MAX_ACCESS_TOKEN_LEN: usize = 4096;

pub struct NewSender {
    pub kind: SenderKind,
    pub name: String,
    pub phone_number: String,
    pub phone_number_id: Option<String>,
    pub waba_id: Option<String>,
    pub access_token: Option<SecretString>,
}

/// Meta's ids are numeric strings.
fn parse_meta_id(field: &str, value: &str) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty()
        || value.len() > MAX_META_ID_LEN
        || !value.bytes().all(|byte| byte.is_ascii_digit())
    {
        return Err(AppError::invalid(format!(
            "{field} must be Meta's numeric id"
        )));
    }
    Ok(value.to_owned())
}

/// Connects a number to `workspace_id`, owned by `owner_member_id`.
pub async fn connect(
    db: &DatabaseConnection,
    secrets: &ServerSecrets,
    workspace_id: Uuid,
    owner_member_id: Uuid,
    new: NewSender,
) -> Result<sender::Model, AppError> {
    let name = String::from(Name::parse("name", &new.name)?);
    let phone = Phone::parse(&new.phone_number)
        .map_err(|error| AppError::client(ErrorCode::InvalidPhoneNumber, error.to_string()))?;
    let waba_id = new
        .waba_id
        .as_deref()
        .map(|id| parse_meta_id("wabaId", id))
        .transpose()?;
    let (phone_number_id, sealed_token) = match new.kind {
        SenderKind::CloudApi => {
            let id = new
                .phone_number_id
                .as_deref()
                .ok_or_else(|| AppError::invalid("a CLOUD_API sender needs phoneNumberId"))?;
            let token = new
                .access_token
                .as_ref()
                .map(|token| token.expose_secret().trim())
                .filter(|token| !token.is_empty())
                .ok_or_else(|| AppError::invalid("a CLOUD_API sender needs accessToken"))?;
            if token.len() > MAX_ACCESS_TOKEN_LEN {
                return Err(AppError::invalid("accessToken is too long"));
            }
            (
                parse_meta_id("phoneNumberId", id)?,
                Some(secrets.seal(token)?),
            )
        }
        // The sandbox never talks to Meta: its id only has to be unique, and it has no token.
        SenderKind::Sandbox => (format!("sandbox-{}", Uuid::now_v7().simple()), None),
    };
    let now = Utc::now();
    sender::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        kind: Set(new.kind),
        name: Set(name),
        phone_number: Set(phone.digits().to_owned()),
        phone_number_id: Set(phone_number_id),
        waba_id: Set(waba_id),
        access_token_encrypted: Set(sealed_token),
        owner_member_id: Set(Some(owner_member_id)),
        status: Set(SenderStatus::Connected),
        status_reason: Set(None),
        daily_limit: Set(None),
        messages_per_second: Set(DEFAULT_MESSAGES_PER_SECOND),
        min_interval_ms: Set(0),
        window_check_enabled: Set(false),
        pacing_enabled: Set(false),
        pacing_min_secs: Set(120),
        pacing_max_secs: Set(300),
        next_send_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|error| match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            AppError::invalid("this number (or its phoneNumberId) is already connected")
        }
        _ => error.into(),
    })
}

// Changes to a sender's settings; `None` leaves a setting as it is. GraphQL's `updateSender`
// takes it as it is (the `///` docs are the schema's).
#[derive(Default, async_graphql::InputObject)]
#[graphql(name = "UpdateSenderInput")]
pub struct SenderSettings {
    pub name: Option<String>,
    /// Messages this sender may queue per UTC day; null returns to the server default (1000).
    pub daily_limit: Option<Option<i32>>,
    /// Space sends by a random gap between the two bounds (seconds; default 120 to 300).
    pub pacing_enabled: Option<bool>,
    pub pacing_min_secs: Option<i32>,
    pub pacing_max_secs: Option<i32>,
    /// Throughput toward WhatsApp, messages per second (default 80).
    pub messages_per_second: Option<i32>,
}

/// Largest daily cap a sender may be given (WhatsApp's own top tier is unlimited, but a cap this
/// high is a typo more often than a plan).
const MAX_DAILY_LIMIT: i32 = 1_000_000;
/// Highest throughput a sender may be given (Meta's own ceiling for a number is 1000/s).
const MAX_MESSAGES_PER_SECOND: i32 = 1000;
/// Throughput of a new sender: Meta's default for a Cloud API number.
const DEFAULT_MESSAGES_PER_SECOND: i32 = 80;
/// Longest pacing gap, in seconds.
const MAX_PACING_SECS: i32 = 24 * 60 * 60;

/// Updates the settings of a sender of `workspace_id`.
pub async fn update(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    sender_id: Uuid,
    settings: SenderSettings,
) -> Result<sender::Model, AppError> {
    use entity::WorkspaceScoped;
    let current = sender::Entity::find_by_id_in_workspace(workspace_id, sender_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("sender"))?;
    if let Some(Some(limit)) = settings.daily_limit
        && !(1..=MAX_DAILY_LIMIT).contains(&limit)
    {
        return Err(AppError::invalid(format!(
            "dailyLimit must be between 1 and {MAX_DAILY_LIMIT}"
        )));
    }
    let min = settings.pacing_min_secs.unwrap_or(current.pacing_min_secs);
    let max = settings.pacing_max_secs.unwrap_or(current.pacing_max_secs);
    if !(0..=MAX_PACING_SECS).contains(&min) || !(min..=MAX_PACING_SECS).contains(&max) {
        return Err(AppError::invalid(format!(
            "pacing needs 0 <= pacingMinSecs <= pacingMaxSecs <= {MAX_PACING_SECS}"
        )));
    }
    let mut active: sender::ActiveModel = current.into();
    if let Some(name) = settings.name {
        active.name = Set(String::from(Name::parse("name", &name)?));
    }
    if let Some(limit) = settings.daily_limit {
        active.daily_limit = Set(limit);
    }
    if let Some(rate) = settings.messages_per_second {
        if !(1..=MAX_MESSAGES_PER_SECOND).contains(&rate) {
            return Err(AppError::invalid(format!(
                "messagesPerSecond must be between 1 and {MAX_MESSAGES_PER_SECOND}"
            )));
        }
        active.messages_per_second = Set(rate);
    }
    if let Some(enabled) = settings.pacing_enabled {
        active.pacing_enabled = Set(enabled);
    }
    active.pacing_min_secs = Set(min);
    active.pacing_max_secs = Set(max);
    active.updated_at = Set(Utc::now());
    Ok(active.update(db).await?)
}
