use async_graphql::{ID, Json, Object};
use chrono::{DateTime, Utc};
use entity::contact;

/// A customer's WhatsApp identity.
pub struct Contact(pub contact::Model);

#[Object]
impl Contact {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    /// E.164, with a leading `+`.
    async fn phone(&self) -> String {
        super::e164(&self.0.phone)
    }

    /// WhatsApp's id of the customer, once known.
    async fn wa_id(&self) -> Option<&str> {
        self.0.wa_id.as_deref()
    }

    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    async fn tags(&self) -> Vec<String> {
        serde_json::from_value(self.0.tags.clone()).unwrap_or_default()
    }

    /// Custom attributes set by the CRM.
    async fn attributes(&self) -> Json<serde_json::Value> {
        Json(self.0.attributes.clone())
    }

    async fn last_message_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_message_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
