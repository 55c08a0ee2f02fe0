use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use serde_json::json;

use crate::{
    auth::Scope,
    domain::ContentInput,
    error::{AppError, ErrorCode},
    graphql::{
        guard::{RequireScope, principal},
        object::{Contact, Conversation, Message, MessageType, SendAttempt},
    },
    sending::{self, SendRequest, SenderChoice},
    services::Services,
};

#[derive(InputObject, serde::Serialize)]
pub struct SendMessageInput {
    /// The recipient, in international format.
    pub to: String,
    /// The workspace number to send from (owners and admins only).
    pub from: Option<String>,
    /// The sender to send from (owners and admins only).
    pub sender_id: Option<ID>,
    #[graphql(name = "type")]
    pub message_type: MessageType,
    // `text`, `media`, `location`, `contacts`, `template`, `interactive` and `reaction`, with
    // their descriptions: the content input every surface sends.
    #[graphql(flatten)]
    #[serde(flatten)]
    pub content: ContentInput,
    /// A message of the same conversation to reply to.
    pub reply_to_message_id: Option<ID>,
    /// Names the contact when this send creates it.
    pub contact_name: Option<String>,
    /// Retries with the same key and input return the first send.
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct SendMessagePayload {
    pub send_attempt: SendAttempt,
    pub message: Message,
    pub contact: Contact,
    pub conversation: Conversation,
    /// Whether this send created the contact.
    pub contact_created: bool,
}

#[derive(Default)]
pub struct MessageMutation;

#[Object]
impl MessageMutation {
    /// Queues a WhatsApp message, finding or creating the contact and its open conversation
    /// (scope `messages:send`). Delivery follows; watch `sendAttempt` or `sendAttemptUpdated`.
    #[graphql(guard = "RequireScope(Scope::MessagesSend)")]
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        input: SendMessageInput,
    ) -> Result<SendMessagePayload> {
        let canonical = json!({"shape": "graphql", "body": &input});
        let sender = match (input.from, input.sender_id) {
            (Some(_), Some(_)) => {
                return Err(AppError::client(
                    ErrorCode::InvalidRequest,
                    "give from or senderId, not both",
                )
                .into());
            }
            (Some(number), None) => SenderChoice::Number(number),
            (None, Some(id)) => SenderChoice::Id(id.to_string()),
            (None, None) => SenderChoice::Own,
        };
        let content = ContentInput {
            message_type: Some(async_graphql::Value::from(input.message_type).to_string()),
            ..input.content
        };
        let request = SendRequest {
            to: input.to,
            sender,
            content,
            reply_to: input.reply_to_message_id.map(|id| id.to_string()),
            contact_name: input.contact_name,
            idempotency_key: input.idempotency_key,
            canonical,
        };
        let sent = sending::send(ctx.data::<Services>()?, principal(ctx)?, request).await?;
        Ok(SendMessagePayload {
            send_attempt: SendAttempt(sent.attempt),
            message: Message(sent.message),
            contact: Contact(sent.contact),
            conversation: Conversation(sent.conversation),
            contact_created: sent.contact_created,
        })
    }
}
