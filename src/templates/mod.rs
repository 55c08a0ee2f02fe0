//! Message templates: read per sender from its WhatsApp Business Account
//! (`GET /{version}/{waba_id}/message_templates`, paged), listed, checked before a template send
//! is queued ([`check`]), and kept current by Meta's `message_template_status_update` webhook.
//!
//! A sender that was never synced (no template stored) is not checked: Meta stays the authority,
//! as it is for the 24-hour window, so numbers connected before templates existed keep sending.
//! A SANDBOX sender has no Business Account: its sync stores Meta's sample `hello_world`
//! (en_US), so the check can be tried without Meta.

pub mod check;

use std::{collections::HashSet, time::Duration};

use chrono::Utc;
use entity::{
    WorkspaceScoped, message_template, new_id, sender,
    sender::{SenderKind, SenderStatus},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, sea_query::OnConflict,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    config::Config,
    db::{self, ServerSecrets},
    domain::{MessageContent, content::Template},
    error::{AppError, ErrorCode},
    whatsapp::{
        client::{CloudApiClient, SendFailure},
        webhook::TemplateStatusUpdate,
    },
};

/// Pages read per sync (100 templates each): far above what a Business Account holds.
const MAX_SYNC_PAGES: usize = 60;
const MAX_NAME: usize = 512;
const MAX_LANGUAGE: usize = 16;
const MAX_STATUS: usize = 32;
const MAX_REASON: usize = 512;
/// Templates upserted per statement.
const UPSERT_CHUNK: usize = 100;

/// The templates of a sender of `workspace_id`, by name and language.
pub async fn list(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    sender_id: Uuid,
) -> Result<Vec<message_template::Model>, AppError> {
    find_sender(db, workspace_id, sender_id).await?;
    Ok(message_template::Entity::find_in_workspace(workspace_id)
        .filter(message_template::Column::SenderId.eq(sender_id))
        .order_by_asc(message_template::Column::Name)
        .order_by_asc(message_template::Column::Language)
        .all(db)
        .await?)
}

async fn find_sender(
    db: &DatabaseConnection,
    workspace_id: Uuid,
    sender_id: Uuid,
) -> Result<sender::Model, AppError> {
    sender::Entity::find_by_id_in_workspace(workspace_id, sender_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("sender"))
}

/// A template as read from Meta.
struct Synced {
    meta_id: Option<String>,
    name: String,
    language: String,
    status: String,
    category: Option<String>,
    reason: Option<String>,
    components: Value,
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Meta's template object, or `None` when it lacks a usable name or language.
fn read_template(value: &Value) -> Option<Synced> {
    let name = value["name"]
        .as_str()
        .filter(|n| !n.is_empty() && n.len() <= MAX_NAME)?;
    let language = value["language"]
        .as_str()
        .filter(|l| !l.is_empty() && l.len() <= MAX_LANGUAGE)?;
    let meta_id = match &value["id"] {
        Value::String(id) => Some(clip(id, 64)),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    };
    Some(Synced {
        meta_id,
        name: name.to_owned(),
        language: language.to_owned(),
        status: clip(
            &value["status"]
                .as_str()
                .unwrap_or("UNKNOWN")
                .to_ascii_uppercase(),
            MAX_STATUS,
        ),
        category: value["category"].as_str().map(|c| clip(c, 32)),
        reason: value["rejected_reason"]
            .as_str()
            .filter(|r| !r.eq_ignore_ascii_case("NONE"))
            .map(|r| clip(r, MAX_REASON)),
        components: match &value["components"] {
            Value::Array(components) => Value::Array(components.clone()),
            _ => json!([]),
        },
    })
}

/// What a sandbox sender "has": Meta's sample template of every new Business Account.
fn sandbox_templates() -> Vec<Synced> {
    vec![Synced {
        meta_id: None,
        name: "hello_world".into(),
        language: "en_US".into(),
        status: "APPROVED".into(),
        category: Some("UTILITY".into()),
        reason: None,
        components: json!([
            {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
            {"type": "BODY", "text": "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us."},
            {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"}
        ]),
    }]
}

/// A Graph API failure while reading templates, as the client sees it.
fn sync_error(failure: SendFailure) -> AppError {
    match failure {
        SendFailure::Meta(error) if error.code == 190 || error.http_status == 401 => {
            AppError::client(
                ErrorCode::WhatsappNotConnected,
                format!("Meta refused the sender's access token: {}", error.message),
            )
        }
        SendFailure::Meta(error) => AppError::client(
            ErrorCode::MetaError,
            format!("Meta refused to list the templates: {}", error.message),
        ),
        SendFailure::NotSent(detail) | SendFailure::Unknown(detail) => AppError::client(
            ErrorCode::MetaError,
            format!("the templates could not be read from the Graph API: {detail}"),
        ),
    }
}

/// Reads the sender's templates from Meta and stores them: new ones added, known ones updated
/// (by name and language), ones Meta no longer lists removed. Returns the stored list.
pub async fn sync(
    db: &DatabaseConnection,
    secrets: &ServerSecrets,
    config: &Config,
    workspace_id: Uuid,
    sender_id: Uuid,
) -> Result<Vec<message_template::Model>, AppError> {
    let sender = find_sender(db, workspace_id, sender_id).await?;
    let (read, complete) = match sender.kind {
        SenderKind::Sandbox => (sandbox_templates(), true),
        SenderKind::CloudApi => read_from_meta(secrets, config, &sender).await?,
    };
    store(db, &sender, read, complete).await?;
    list(db, workspace_id, sender_id).await
}

async fn read_from_meta(
    secrets: &ServerSecrets,
    config: &Config,
    sender: &sender::Model,
) -> Result<(Vec<Synced>, bool), AppError> {
    if sender.status == SenderStatus::Disconnected {
        return Err(AppError::client(
            ErrorCode::WhatsappNotConnected,
            "the sender is disconnected; reconnect it first",
        ));
    }
    let waba_id = sender.waba_id.as_deref().ok_or_else(|| {
        AppError::client(
            ErrorCode::InvalidRequest,
            "this sender has no wabaId, so its templates cannot be read; reconnect it with one",
        )
    })?;
    let sealed = sender
        .access_token_encrypted
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("cloud sender {} has no access token", sender.id))?;
    let token = secrets.open(sealed)?;
    let client = CloudApiClient::new(
        &config.graph_api_url,
        &config.graph_api_version,
        Duration::from_millis(config.graph_api_timeout_ms),
    )?;
    let mut read = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_SYNC_PAGES {
        let page = client
            .list_message_templates(waba_id, &token, after.as_deref())
            .await
            .map_err(sync_error)?;
        read.extend(page.data.iter().filter_map(read_template));
        match page.next_cursor() {
            Some(next) if after.as_deref() != Some(next) => after = Some(next.to_owned()),
            _ => return Ok((read, true)),
        }
    }
    tracing::warn!(
        sender_id = %sender.id,
        "more than {MAX_SYNC_PAGES} pages of templates; the rest were not read"
    );
    Ok((read, false))
}

/// Upserts what was read; removes what Meta no longer lists, unless the read was cut short.
async fn store(
    db: &DatabaseConnection,
    sender: &sender::Model,
    read: Vec<Synced>,
    complete: bool,
) -> Result<(), AppError> {
    let now = Utc::now();
    let txn = db::begin_write(db).await?;
    let mut seen = HashSet::new();
    let rows: Vec<message_template::ActiveModel> = read
        .into_iter()
        .filter(|t| seen.insert((t.name.clone(), t.language.clone())))
        .map(|template| message_template::ActiveModel {
            id: Set(new_id()),
            workspace_id: Set(sender.workspace_id),
            sender_id: Set(sender.id),
            meta_id: Set(template.meta_id),
            name: Set(template.name),
            language: Set(template.language),
            status: Set(template.status),
            category: Set(template.category),
            status_reason: Set(template.reason),
            components: Set(template.components),
            synced_at: Set(now),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    // One statement per hundred templates (13 parameters each: far below either database's
    // limit on parameters per statement).
    for chunk in rows.chunks(UPSERT_CHUNK) {
        message_template::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    message_template::Column::SenderId,
                    message_template::Column::Name,
                    message_template::Column::Language,
                ])
                .update_columns([
                    message_template::Column::MetaId,
                    message_template::Column::Status,
                    message_template::Column::Category,
                    message_template::Column::StatusReason,
                    message_template::Column::Components,
                    message_template::Column::SyncedAt,
                    message_template::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    if complete {
        let gone: Vec<Uuid> = message_template::Entity::find()
            .filter(message_template::Column::SenderId.eq(sender.id))
            .all(&txn)
            .await?
            .into_iter()
            .filter(|t| !seen.contains(&(t.name.clone(), t.language.clone())))
            .map(|t| t.id)
            .collect();
        if !gone.is_empty() {
            message_template::Entity::delete_many()
                .filter(message_template::Column::Id.is_in(gone))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// Refuses a template send that the sender's synced templates say Meta would refuse
/// (`template_malformed`, naming the problem). Other content, and senders never synced, pass.
pub async fn check_send(
    db: &impl ConnectionTrait,
    sender: &sender::Model,
    content: &MessageContent,
) -> Result<(), AppError> {
    let MessageContent::Template(Template {
        name,
        language,
        components,
    }) = content
    else {
        return Ok(());
    };
    let synced = message_template::Entity::find()
        .filter(message_template::Column::SenderId.eq(sender.id))
        .count(db)
        .await?;
    if synced == 0 {
        return Ok(());
    }
    let translations = message_template::Entity::find()
        .filter(message_template::Column::SenderId.eq(sender.id))
        .filter(message_template::Column::Name.eq(name.as_str()))
        .all(db)
        .await?;
    check::check_send(&translations, name, language, components)
        .map_err(|message| AppError::client(ErrorCode::TemplateMalformed, message))
}

/// Applies a `message_template_status_update` change of Business Account `waba_id`: the stored
/// status (and reason) of that template, for every sender of that account. `Ok(Some(note))`
/// when no stored template matched (acknowledged all the same).
pub async fn apply_status_update(
    db: &impl ConnectionTrait,
    waba_id: &str,
    update: &TemplateStatusUpdate,
) -> Result<Option<String>, AppError> {
    let Some(event) = update.event.as_deref().filter(|e| !e.is_empty()) else {
        return Ok(Some("template status update without an event".into()));
    };
    let name = update.message_template_name.as_deref().unwrap_or_default();
    let language = update
        .message_template_language
        .as_deref()
        .unwrap_or_default();
    let meta_id = update.message_template_id.clone();
    // Reinstated is Meta's word for "approved again" after a pause.
    let status = match event.to_ascii_uppercase().as_str() {
        "REINSTATED" => "APPROVED".to_owned(),
        other => clip(other, MAX_STATUS),
    };
    let reason = update
        .reason
        .as_deref()
        .filter(|r| !r.is_empty() && !r.eq_ignore_ascii_case("NONE"))
        .map(|r| clip(r, MAX_REASON));
    let senders: Vec<Uuid> = sender::Entity::find()
        .filter(sender::Column::WabaId.eq(waba_id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    if senders.is_empty() {
        return Ok(Some(format!(
            "template status update for unknown business account {waba_id}"
        )));
    }
    let by_name = sea_orm::Condition::all()
        .add(message_template::Column::Name.eq(name))
        .add(message_template::Column::Language.eq(language));
    let matches = match meta_id {
        Some(id) => sea_orm::Condition::any()
            .add(message_template::Column::MetaId.eq(id))
            .add(by_name),
        None => by_name,
    };
    let updated = message_template::Entity::update_many()
        .col_expr(
            message_template::Column::Status,
            sea_orm::sea_query::Expr::value(status),
        )
        .col_expr(
            message_template::Column::StatusReason,
            sea_orm::sea_query::Expr::value(reason),
        )
        .col_expr(
            message_template::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(message_template::Column::SenderId.is_in(senders))
        .filter(matches)
        .exec(db)
        .await?;
    Ok((updated.rows_affected == 0)
        .then(|| format!("template status update for unknown template {name:?} ({language})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metas_template_objects_are_read_leniently() {
        let read = read_template(&json!({"name": "order_update", "language": "en_US",
            "status": "approved", "category": "UTILITY", "id": 1234, "rejected_reason": "NONE",
            "components": [{"type": "BODY", "text": "Hi {{1}}"}]}))
        .unwrap();
        assert_eq!(read.meta_id.as_deref(), Some("1234"));
        assert_eq!(read.status, "APPROVED");
        assert_eq!(read.reason, None);
        assert_eq!(read.components[0]["text"], "Hi {{1}}");
        let rejected = read_template(&json!({"name": "x", "language": "de", "id": "9",
            "status": "REJECTED", "rejected_reason": "INVALID_FORMAT"}))
        .unwrap();
        assert_eq!(rejected.reason.as_deref(), Some("INVALID_FORMAT"));
        assert_eq!(rejected.components, json!([]));
        assert!(read_template(&json!({"language": "en"})).is_none());
        assert!(read_template(&json!({"name": "x"})).is_none());
        assert!(read_template(&json!({"name": "x", "language": "x".repeat(17)})).is_none());
    }
}
