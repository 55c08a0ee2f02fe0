use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::sender;

/// How a sender reaches WhatsApp.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::sender::SenderKind")]
pub enum SenderKind {
    /// A WhatsApp Business number on Meta's Cloud API.
    CloudApi,
    /// A simulated number: the whole flow without a Meta account.
    Sandbox,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::sender::SenderStatus")]
pub enum SenderStatus {
    Connected,
    /// Its access token was rejected or it was disconnected; sends fail with `whatsapp_not_connected`.
    Disconnected,
}

/// A WhatsApp Business number messages are sent from.
pub struct Sender(pub sender::Model);

#[Object]
impl Sender {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn kind(&self) -> SenderKind {
        self.0.kind.into()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// E.164, with a leading `+`.
    async fn phone_number(&self) -> String {
        super::e164(&self.0.phone_number)
    }

    /// Meta's id of the number.
    async fn phone_number_id(&self) -> &str {
        &self.0.phone_number_id
    }

    /// The WhatsApp Business Account the number belongs to.
    async fn waba_id(&self) -> Option<&str> {
        self.0.waba_id.as_deref()
    }

    async fn status(&self) -> SenderStatus {
        self.0.status.into()
    }

    /// Why the sender is disconnected, when it is.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }

    /// Most messages queued per UTC day; null means the server default (1000).
    async fn daily_limit(&self) -> Option<i32> {
        self.0.daily_limit
    }

    /// Pacing of the dispatcher for this number.
    async fn messages_per_second(&self) -> i32 {
        self.0.messages_per_second
    }

    /// Whether sends are spaced by a random gap between pacingMinSecs and pacingMaxSecs.
    async fn pacing_enabled(&self) -> bool {
        self.0.pacing_enabled
    }

    async fn pacing_min_secs(&self) -> i32 {
        self.0.pacing_min_secs
    }

    async fn pacing_max_secs(&self) -> i32 {
        self.0.pacing_max_secs
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Its auto-reply ("bot") settings; the defaults (off) until changed with updateAutoReply.
    async fn auto_reply(&self, ctx: &Context<'_>) -> Result<super::AutoReplySettings> {
        let stored = crate::graphql::loader::find::<entity::auto_reply_setting::Entity>(
            ctx,
            self.0.workspace_id,
            self.0.id,
        )
        .await?;
        Ok(super::AutoReplySettings(crate::auto_reply::Settings::of(
            self.0.id, stored,
        )))
    }
}
