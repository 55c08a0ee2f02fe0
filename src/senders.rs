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
    accounts::parse_name,
    db::ServerSecrets,
    domain::Phone,
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

fn invalid(message: impl Into<String>) -> AppError {
    AppError::client(ErrorCode::InvalidRequest, message)
}

/// Meta's ids are numeric strings.
fn parse_meta_id(field: &str, value: &str) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty()
        || value.len() > MAX_META_ID_LEN
        || !value.bytes().all(|byte| byte.is_ascii_digit())
    {
        return Err(invalid(format!("{field} must be Meta's numeric id")));
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
    let name = parse_name("name", &new.name)?;
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
                .ok_or_else(|| invalid("a CLOUD_API sender needs phoneNumberId"))?;
            let token = new
                .access_token
                .as_ref()
                .map(|token| token.expose_secret().trim())
                .filter(|token| !token.is_empty())
                .ok_or_else(|| invalid("a CLOUD_API sender needs accessToken"))?;
            if token.len() > MAX_ACCESS_TOKEN_LEN {
                return Err(invalid("accessToken is too long"));
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
        messages_per_second: Set(20),
        min_interval_ms: Set(0),
        window_check_enabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|error| match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            invalid("this number (or its phoneNumberId) is already connected")
        }
        _ => error.into(),
    })
}
