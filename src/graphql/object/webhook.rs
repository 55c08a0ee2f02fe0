use async_graphql::{Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{webhook_delivery, webhook_endpoint};

use crate::events::EventKind;

/// An outbound webhook endpoint of the workspace. Its signing secret is shown only when it is
/// created or rotated.
pub struct WebhookEndpoint(pub webhook_endpoint::Model);

#[Object]
impl WebhookEndpoint {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    /// Where deliveries are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The event types the endpoint receives.
    async fn events(&self) -> Vec<EventKind> {
        EventKind::in_mask(self.0.event_mask)
    }

    /// False once disabled, by the workspace or because every delivery kept failing.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// Why the endpoint is disabled.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }

    async fn disabled_at(&self) -> Option<DateTime<Utc>> {
        self.0.disabled_at
    }

    /// When deliveries started failing without a success since; null while they succeed.
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An endpoint with its signing secret, shown this once.
#[derive(SimpleObject)]
pub struct WebhookEndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    /// Verify `Parley-Signature: t=<unix>,v1=<hex>` as HMAC-SHA256 with this whole string as the
    /// key over `<t>.<raw body>`.
    pub secret: String,
}

/// Where a delivery stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum WebhookDeliveryStatus {
    /// Waiting for its next try (`nextAttemptAt`).
    Pending,
    /// Being sent right now.
    Delivering,
    /// The endpoint answered 2xx.
    Delivered,
    /// Out of tries; `redeliverWebhook` sends it again.
    Failed,
}

impl From<webhook_delivery::WebhookDeliveryState> for WebhookDeliveryStatus {
    fn from(state: webhook_delivery::WebhookDeliveryState) -> Self {
        use webhook_delivery::WebhookDeliveryState as S;
        match state {
            S::Pending => Self::Pending,
            S::Delivering => Self::Delivering,
            S::Delivered => Self::Delivered,
            S::Failed => Self::Failed,
        }
    }
}

/// One event on its way to one endpoint: the delivery log.
pub struct WebhookDelivery(pub webhook_delivery::Model);

#[Object]
impl WebhookDelivery {
    async fn id(&self) -> ID {
        self.0.id.into()
    }

    async fn endpoint_id(&self) -> ID {
        self.0.endpoint_id.into()
    }

    /// The event's id (`Parley-Event-Id`), the same on every try and redelivery.
    async fn event_id(&self) -> ID {
        self.0.event_id.into()
    }

    async fn event_type(&self) -> Option<EventKind> {
        EventKind::parse(&self.0.event_type)
    }

    async fn status(&self) -> WebhookDeliveryStatus {
        self.0.state.into()
    }

    /// Tries so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// The HTTP status of the last answer; null when there was none (a timeout, a refused
    /// address).
    async fn last_response_code(&self) -> Option<i32> {
        self.0.last_response_code
    }

    /// Why the last try failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// The first bytes of the last answer.
    async fn last_response_body(&self) -> Option<&str> {
        self.0.last_response_excerpt.as_deref()
    }

    async fn last_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_attempt_at
    }

    /// When the next try is due, while the delivery is pending.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.state == webhook_delivery::WebhookDeliveryState::Pending)
            .then_some(self.0.next_attempt_at)
    }

    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }

    /// The JSON body sent: `{id, type, createdAt, workspaceId, data}`.
    async fn payload(&self) -> Json<serde_json::Value> {
        Json(serde_json::from_str(&self.0.body).unwrap_or_default())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
