//! Mutation roots, one per area, merged into [`Mutation`].

mod account;
mod api_key;
mod automation;
mod contact;
mod conversation;
mod message;
mod sender;
mod webhook;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Mutation(
    account::AccountMutation,
    api_key::ApiKeyMutation,
    contact::ContactMutation,
    conversation::ConversationMutation,
    message::MessageMutation,
    sender::SenderMutation,
    webhook::WebhookMutation,
    automation::AutomationMutation,
);
