use async_graphql::{ID, Json, Object};
use chrono::{DateTime, Utc};
use entity::message_template;

/// A WhatsApp message template of a sender's Business Account, as last synced from Meta.
pub struct MessageTemplate(pub message_template::Model);

#[Object]
impl MessageTemplate {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    /// The template's name, as a send names it.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Its language code (`en_US`, `pt_BR`, …); each translation is its own template here.
    async fn language(&self) -> &str {
        &self.0.language
    }

    /// Meta's status: APPROVED (sendable), PENDING, REJECTED, PAUSED, DISABLED, FLAGGED, …
    async fn status(&self) -> &str {
        &self.0.status
    }

    /// MARKETING, UTILITY or AUTHENTICATION.
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }

    /// Meta's reason for the last status change (a rejection, a pause), when it gave one.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }

    /// Meta's `components` (HEADER with `format`, BODY `text` with `{{1}}` or `{{name}}`
    /// placeholders, FOOTER, BUTTONS), as Meta returned them.
    async fn components(&self) -> Json<serde_json::Value> {
        Json(self.0.components.clone())
    }

    /// When it was last read from Meta.
    async fn synced_at(&self) -> DateTime<Utc> {
        self.0.synced_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
