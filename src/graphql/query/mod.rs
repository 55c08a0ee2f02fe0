//! Query roots, one per area, merged into [`Query`].

mod account;
mod contact;
mod conversation;
mod message;
mod template;
mod viewer;
mod webhook;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Query(
    viewer::ViewerQuery,
    account::AccountQuery,
    contact::ContactQuery,
    conversation::ConversationQuery,
    message::MessageQuery,
    webhook::WebhookQuery,
    template::TemplateQuery,
);
