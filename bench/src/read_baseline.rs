//! The read baselines: bare axum handlers that answer what the `reads` scenarios ask Parley, with
//! nothing else: no authentication, no GraphQL, no dataloaders.
//!
//! - `POST /trivial` parses the JSON body and answers `{"data": {"__typename": "Query"}}`.
//! - `POST /inbox` parses the JSON body and reads the inbox's first page (50 conversations, newest
//!   activity first, each with its contact and last message) with one hand-written SQL query over
//!   Parley's own database, answering the same JSON shape as Parley's `conversations` query.

use std::sync::Arc;

use anyhow::Context;
use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::baseline::BareServer;

/// Conversations on the inbox's first page, as Parley's `conversations(first: 50)`.
pub const PAGE: usize = 50;

/// The read baseline.
pub struct ReadBaseline;

struct Inbox {
    db: DatabaseConnection,
    /// The one workspace whose inbox is read: nobody signs in to the baseline.
    workspace_id: Uuid,
    sql: String,
}

impl ReadBaseline {
    /// Serves on port 0, reading the database at `database_url` (Parley's, already seeded) through
    /// Parley's own connect, so with the same pool settings.
    pub async fn start(database_url: &str, workspace_id: Uuid) -> anyhow::Result<BareServer> {
        let config = crate::parley_server::server_config(database_url);
        let db = parley::db::connect(&config)
            .await
            .context("read baseline database")?;
        let sql = inbox_sql(db.get_database_backend());
        let router = Router::new()
            .route("/trivial", post(trivial))
            .route("/inbox", post(inbox))
            .with_state(Arc::new(Inbox {
                db: db.clone(),
                workspace_id,
                sql,
            }));
        BareServer::serve("read baseline", router, db, config.listen).await
    }
}

/// The request is parsed as Parley parses its GraphQL request, then ignored; a body that is not
/// JSON is refused with 400.
fn refused(body: &[u8]) -> Option<Response> {
    serde_json::from_slice::<Value>(body)
        .err()
        .map(|error| (StatusCode::BAD_REQUEST, error.to_string()).into_response())
}

async fn trivial(body: Bytes) -> Response {
    match refused(&body) {
        None => Json(json!({"data": {"__typename": "Query"}})).into_response(),
        Some(refused) => refused,
    }
}

async fn inbox(State(inbox): State<Arc<Inbox>>, body: Bytes) -> Response {
    if let Some(refused) = refused(&body) {
        return refused;
    }
    match read_inbox(&inbox).await {
        Ok(page) => Json(page).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error:#}")).into_response(),
    }
}

/// One statement: the page's conversations (one more, to know whether a next page exists) joined
/// with their contact and their last message, in Parley's inbox order.
fn inbox_sql(backend: DbBackend) -> String {
    let workspace = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    format!(
        "SELECT c.id, c.status, c.unread_count, c.last_message_at, \
                ct.id AS contact_id, ct.name AS contact_name, ct.phone AS contact_phone, \
                m.id AS message_id, m.direction AS message_direction, m.type AS message_type, \
                m.status AS message_status, m.text AS message_text, \
                m.created_at AS message_created_at \
         FROM conversations c \
         JOIN contacts ct ON ct.id = c.contact_id \
         LEFT JOIN messages m ON m.id = c.last_message_id \
         WHERE c.workspace_id = {workspace} \
         ORDER BY c.last_message_at DESC, c.id DESC \
         LIMIT {}",
        PAGE + 1
    )
}

async fn read_inbox(inbox: &Inbox) -> anyhow::Result<Value> {
    let rows = inbox
        .db
        .query_all_raw(Statement::from_sql_and_values(
            inbox.db.get_database_backend(),
            &inbox.sql,
            [inbox.workspace_id.into()],
        ))
        .await?;
    let has_next_page = rows.len() > PAGE;
    let mut nodes = Vec::with_capacity(PAGE);
    let mut end_cursor = None;
    for row in rows.iter().take(PAGE) {
        let id: Uuid = row.try_get("", "id")?;
        let last_message_at: DateTime<Utc> = row.try_get("", "last_message_at")?;
        end_cursor = Some(format!("{}|{id}", last_message_at.timestamp_micros()));
        nodes.push(json!({
            "id": id,
            "status": row.try_get::<String>("", "status")?,
            "unreadCount": row.try_get::<i32>("", "unread_count")?,
            "lastMessageAt": last_message_at,
            "contact": {
                "id": row.try_get::<Uuid>("", "contact_id")?,
                "name": row.try_get::<Option<String>>("", "contact_name")?,
                "phone": format!("+{}", row.try_get::<String>("", "contact_phone")?),
            },
            "lastMessage": last_message(row)?,
        }));
    }
    Ok(json!({"data": {"conversations": {
        "nodes": nodes,
        "pageInfo": {"hasNextPage": has_next_page, "endCursor": end_cursor},
    }}}))
}

fn last_message(row: &QueryResult) -> anyhow::Result<Value> {
    let Some(id) = row.try_get::<Option<Uuid>>("", "message_id")? else {
        return Ok(Value::Null);
    };
    Ok(json!({
        "id": id,
        "direction": row.try_get::<String>("", "message_direction")?,
        "type": row.try_get::<String>("", "message_type")?,
        "status": row.try_get::<String>("", "message_status")?,
        "text": row.try_get::<Option<String>>("", "message_text")?,
        "createdAt": row.try_get::<DateTime<Utc>>("", "message_created_at")?,
    }))
}
