use async_graphql::{Context, ID, Object, Result, connection::Connection};
use entity::{WorkspaceScoped, contact};
use sea_orm::DatabaseConnection;

use crate::{
    auth::Scope,
    contacts::{self, ContactFilter},
    domain::Phone,
    error::{AppError, ErrorCode},
    graphql::{
        connection,
        guard::{RequireScope, principal},
        object::Contact,
        parse_id,
    },
    pagination::lists,
};

#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// The workspace's contacts, oldest first (scope `contacts:read`). `search` matches names
    /// containing it, whatever the case, and numbers starting with it (`+44 77`); `tag` keeps
    /// contacts carrying that tag. At most 100 a page.
    #[graphql(
        guard = "RequireScope(Scope::ContactsRead)",
        complexity = "connection::page_cost(first, child_complexity)"
    )]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
        tag: Option<String>,
    ) -> Result<Connection<String, Contact>> {
        let db = ctx.data::<DatabaseConnection>()?;
        let filter = ContactFilter::parse(search.as_deref(), tag.as_deref())?;
        let select = filter.apply(
            contact::Entity::find_in_workspace(principal(ctx)?.workspace_id),
            db.get_database_backend(),
        );
        let list = lists::contacts(filter.list_name());
        Ok(connection::forward(ctx, list, select, first, after, Contact).await?)
    }

    /// One contact, by `id` or by `phone` (international format) — give exactly one (scope
    /// `contacts:read`).
    #[graphql(guard = "RequireScope(Scope::ContactsRead)")]
    async fn contact(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        phone: Option<String>,
    ) -> Result<Contact> {
        let db = ctx.data::<DatabaseConnection>()?;
        let workspace_id = principal(ctx)?.workspace_id;
        let found = match (id, phone) {
            (Some(id), None) => {
                let id = parse_id(&id, "contact")?;
                contact::Entity::find_by_id_in_workspace(workspace_id, id)
                    .one(db)
                    .await
                    .map_err(AppError::from)?
            }
            (None, Some(phone)) => {
                let phone = Phone::parse(&phone).map_err(AppError::from)?;
                contacts::find_by_phone(db, workspace_id, &phone).await?
            }
            _ => {
                return Err(AppError::client(
                    ErrorCode::InvalidRequest,
                    "give the contact's id or its phone, not both",
                )
                .into());
            }
        };
        Ok(Contact(
            found.ok_or_else(|| AppError::not_found("contact"))?,
        ))
    }
}
