use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined, Object, Result, SimpleObject};
use sea_orm::DatabaseConnection;

use crate::{
    auth::Scope,
    contacts::{self, ContactChanges},
    events::EventBus,
    graphql::{
        guard::{RequireScope, principal},
        object::Contact,
        parse_id,
    },
};

#[derive(InputObject)]
pub struct UpsertContactInput {
    /// The contact's number, in international format: the contact is found by it, or created.
    pub phone: String,
    /// Sets the name; null clears it; left out, it stays.
    pub name: MaybeUndefined<String>,
    /// Replaces the tags (1 to 64 characters each, at most 50).
    pub tags: Option<Vec<String>>,
    /// Merged into the custom attributes as a JSON merge patch: keys set to null are removed,
    /// objects merge, anything else replaces (16 KiB at most in all).
    pub attributes: Option<Json<serde_json::Value>>,
}

#[derive(SimpleObject)]
pub struct UpsertContactPayload {
    pub contact: Contact,
    /// Whether this call created the contact.
    pub created: bool,
}

#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    /// Creates the contact for a number or changes the one there is (scope `contacts:write`).
    #[graphql(guard = "RequireScope(Scope::ContactsWrite)")]
    async fn upsert_contact(
        &self,
        ctx: &Context<'_>,
        input: UpsertContactInput,
    ) -> Result<UpsertContactPayload> {
        let db = ctx.data::<DatabaseConnection>()?;
        let changes = ContactChanges {
            name: match input.name {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(name) => Some(Some(name)),
            },
            tags: input.tags,
            attributes: input.attributes.map(|attributes| attributes.0),
        };
        let workspace_id = principal(ctx)?.workspace_id;
        let bus = ctx.data::<EventBus>()?;
        let (contact, created) =
            contacts::upsert(db, bus, workspace_id, &input.phone, changes).await?;
        Ok(UpsertContactPayload {
            contact: Contact(contact),
            created,
        })
    }

    /// Adds tags to a contact; tags it already has are kept once (scope `contacts:write`).
    #[graphql(guard = "RequireScope(Scope::ContactsWrite)")]
    async fn tag_contact(&self, ctx: &Context<'_>, id: ID, tags: Vec<String>) -> Result<Contact> {
        retag(ctx, id, tags, true).await
    }

    /// Removes tags from a contact; tags it does not have are ignored (scope `contacts:write`).
    #[graphql(guard = "RequireScope(Scope::ContactsWrite)")]
    async fn untag_contact(&self, ctx: &Context<'_>, id: ID, tags: Vec<String>) -> Result<Contact> {
        retag(ctx, id, tags, false).await
    }
}

async fn retag(ctx: &Context<'_>, id: ID, tags: Vec<String>, add: bool) -> Result<Contact> {
    let db = ctx.data::<DatabaseConnection>()?;
    let id = parse_id(&id, "contact")?;
    let contact = contacts::retag(db, principal(ctx)?.workspace_id, id, &tags, add).await?;
    Ok(Contact(contact))
}
