//! The baseline: a bare axum handler that writes the rows Parley writes for a shape A send, in
//! one transaction, over the same schema and the same pool settings, and nothing else: no
//! authentication, no rate limit, no daily cap, no validation beyond parsing. It is the floor of
//! "these rows in one transaction" that Parley is compared with.
//!
//! The rows are built from the entity crate's ActiveModels with the same calls as Parley's send
//! path (`insert`, `update`, `exec_without_returning`), so that both issue the same statements for
//! them on each backend.

use std::{net::SocketAddr, sync::Arc};

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
use entity::{
    WorkspaceScoped, contact, conversation,
    conversation::ConversationStatus,
    member,
    member::Role,
    message::{self, MessageDirection, MessageStatus, MessageType},
    new_id, send_attempt,
    send_attempt::SendAttemptState,
    sender::{self, SenderKind, SenderStatus},
    workspace,
};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, sea_query::OnConflict,
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use uuid::Uuid;

/// A bare axum server over a database pool, as the baselines run: serves until stopped.
pub struct BareServer {
    pub addr: SocketAddr,
    name: &'static str,
    db: DatabaseConnection,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl BareServer {
    /// Serves `router` on `listen` (port 0 for a free one); `db` is closed when it stops.
    pub async fn serve(
        name: &'static str,
        router: Router,
        db: DatabaseConnection,
        listen: SocketAddr,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    stopped.await.ok();
                })
                .await
        });
        Ok(Self {
            addr,
            name,
            db,
            stop,
            task,
        })
    }

    /// Stops serving and closes the pool.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.send(()).ok();
        self.task
            .await
            .with_context(|| format!("{} task", self.name))?
            .with_context(|| format!("{} stops cleanly", self.name))?;
        self.db
            .close()
            .await
            .with_context(|| format!("{} pool", self.name))
    }
}

/// The send baseline.
pub struct BaselineServer;

/// The one workspace, member and sender every send goes from.
struct Seed {
    workspace_id: Uuid,
    member_id: Uuid,
    sender_id: Uuid,
}

impl BaselineServer {
    /// Migrates a fresh database with Parley's migrations, seeds one workspace, member and sender,
    /// and serves `POST /api/v1/messages/send` on port 0.
    pub async fn start(database_url: &str) -> anyhow::Result<BareServer> {
        // Parley's own connect: same pool size, WAL, synchronous and busy timeout on SQLite.
        let config = crate::parley_server::server_config(database_url);
        let db = parley::db::connect(&config)
            .await
            .context("baseline database")?;
        Migrator::up(&db, None)
            .await
            .context("baseline migrations")?;
        let seed = seed(&db).await.context("baseline seed rows")?;
        let router = Router::new()
            .route("/api/v1/messages/send", post(send))
            .with_state(Arc::new(Baseline {
                db: db.clone(),
                seed,
            }));
        BareServer::serve("baseline server", router, db, config.listen).await
    }
}

struct Baseline {
    db: DatabaseConnection,
    seed: Seed,
}

async fn seed(db: &DatabaseConnection) -> anyhow::Result<Seed> {
    let now = Utc::now();
    let workspace = workspace::ActiveModel {
        id: Set(new_id()),
        name: Set("Baseline".into()),
        event_sequence: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let member = member::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace.id),
        email: Set("baseline@parley.example".into()),
        name: Set("Baseline".into()),
        // Nobody signs in to the baseline.
        password_hash: Set("-".into()),
        role: Set(Role::Owner),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let sender = sender::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace.id),
        kind: Set(SenderKind::Sandbox),
        name: Set("Baseline".into()),
        phone_number: Set("15550000001".into()),
        phone_number_id: Set(format!("sandbox-{}", Uuid::now_v7().simple())),
        waba_id: Set(None),
        access_token_encrypted: Set(None),
        owner_member_id: Set(Some(member.id)),
        status: Set(SenderStatus::Connected),
        status_reason: Set(None),
        daily_limit: Set(None),
        messages_per_second: Set(20),
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
    .await?;
    Ok(Seed {
        workspace_id: workspace.id,
        member_id: member.id,
        sender_id: sender.id,
    })
}

/// A text send, as parsed from the body: the number's digits and the text.
struct TextSend {
    raw: Value,
    digits: String,
    text: String,
}

fn parse(body: &[u8]) -> Result<TextSend, String> {
    let raw: Value = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let to = raw["to"].as_str().ok_or("no `to`")?;
    let text = raw["text"].as_str().ok_or("no `text`")?.to_owned();
    Ok(TextSend {
        digits: to.trim_start_matches('+').to_owned(),
        text,
        raw,
    })
}

async fn send(State(baseline): State<Arc<Baseline>>, body: Bytes) -> Response {
    let send = match parse(&body) {
        Ok(send) => send,
        Err(error) => return (StatusCode::BAD_REQUEST, error).into_response(),
    };
    match queue(&baseline.db, &baseline.seed, send).await {
        Ok(attempt) => (
            StatusCode::ACCEPTED,
            Json(json!({"accepted": true, "sendAttemptId": attempt.id, "status": "queued"})),
        )
            .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error:#}")).into_response(),
    }
}

/// The rows of one send in one write transaction, in Parley's order.
async fn queue(
    db: &DatabaseConnection,
    seed: &Seed,
    send: TextSend,
) -> anyhow::Result<send_attempt::Model> {
    let now = Utc::now();
    let txn = parley::db::begin_write(db).await?;
    let (contact, contact_created) = find_or_create_contact(&txn, seed, &send.digits, now).await?;
    let conversation = find_or_create_conversation(&txn, seed, &contact, now).await?;
    // The stored body and request hash Parley keeps for a text send, so the rows weigh the same.
    let preview_url = send.text.contains("http://") || send.text.contains("https://");
    let body = json!({"type": "text", "body": send.text, "previewUrl": preview_url});
    let hash = parley::sending::request_hash(&json!({"shape": "A", "body": send.raw}));
    let message = message::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(seed.workspace_id),
        conversation_id: Set(conversation.id),
        contact_id: Set(contact.id),
        sender_id: Set(seed.sender_id),
        direction: Set(MessageDirection::Outbound),
        r#type: Set(MessageType::Text),
        body: Set(body),
        text: Set(Some(send.text)),
        status: Set(MessageStatus::Pending),
        wamid: Set(None),
        sent_at: Set(None),
        delivered_at: Set(None),
        read_at: Set(None),
        failed_at: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        reply_to_message_id: Set(None),
        context_wamid: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let attempt = send_attempt::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(seed.workspace_id),
        message_id: Set(message.id),
        sender_id: Set(seed.sender_id),
        api_key_id: Set(None),
        member_id: Set(Some(seed.member_id)),
        state: Set(SendAttemptState::Queued),
        idempotency_key: Set(None),
        request_hash: Set(Some(hash)),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(now),
        wamid: Set(None),
        wa_id: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        contact_created: Set(contact_created),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    // Parley moves both the conversation's and the contact's last-message fields in the send.
    let mut touched: conversation::ActiveModel = conversation.into();
    touched.last_outbound_at = Set(Some(now));
    touched.last_message_at = Set(now);
    touched.last_message_id = Set(Some(message.id));
    touched.updated_at = Set(now);
    touched.update(&txn).await?;
    let mut touched: contact::ActiveModel = contact.into();
    touched.last_message_at = Set(Some(now));
    touched.update(&txn).await?;
    txn.commit().await?;
    Ok(attempt)
}

async fn find_or_create_contact(
    txn: &DatabaseTransaction,
    seed: &Seed,
    digits: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<(contact::Model, bool)> {
    let inserted = contact::Entity::insert(contact::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(seed.workspace_id),
        phone: Set(digits.to_owned()),
        wa_id: Set(None),
        name: Set(None),
        tags: Set(json!([])),
        attributes: Set(json!({})),
        last_message_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([contact::Column::WorkspaceId, contact::Column::Phone])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    let contact = contact::Entity::find_in_workspace(seed.workspace_id)
        .filter(contact::Column::Phone.eq(digits))
        .one(txn)
        .await?
        .context("contact just upserted")?;
    Ok((contact, inserted == 1))
}

async fn find_or_create_conversation(
    txn: &DatabaseTransaction,
    seed: &Seed,
    contact: &contact::Model,
    now: DateTime<Utc>,
) -> anyhow::Result<conversation::Model> {
    let open = || {
        conversation::Entity::find_in_workspace(seed.workspace_id)
            .filter(conversation::Column::SenderId.eq(seed.sender_id))
            .filter(conversation::Column::ContactId.eq(contact.id))
            .filter(conversation::Column::Status.eq(ConversationStatus::Open))
    };
    if let Some(conversation) = open().one(txn).await? {
        return Ok(conversation);
    }
    conversation::Entity::insert(conversation::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(seed.workspace_id),
        sender_id: Set(seed.sender_id),
        contact_id: Set(contact.id),
        status: Set(ConversationStatus::Open),
        assigned_member_id: Set(None),
        last_inbound_at: Set(None),
        last_outbound_at: Set(None),
        last_message_at: Set(now),
        last_message_id: Set(None),
        unread_count: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(OnConflict::new().do_nothing().to_owned())
    .exec_without_returning(txn)
    .await?;
    open().one(txn).await?.context("conversation just opened")
}
