use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use sea_orm::DatabaseConnection;

use crate::{
    accounts::{self, NewMember},
    auth,
    config::{Config, SignupMode},
    db::ServerSecrets,
    error::{AppError, ErrorCode},
    graphql::{
        guard::{SignedIn, principal},
        object::{Member, Role, Workspace},
        parse_id,
    },
};

#[derive(InputObject)]
pub struct SignUpInput {
    pub workspace_name: String,
    /// Your name, as the workspace's owner.
    pub name: String,
    pub email: String,
    /// 8 to 256 characters.
    pub password: String,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct AddMemberInput {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Their initial password, 8 to 256 characters.
    pub password: String,
}

/// A member's session: send `token` as `Authorization: Bearer <token>`.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub token: String,
    pub member: Member,
    pub workspace: Workspace,
}

#[derive(Default)]
pub struct AccountMutation;

fn issue(
    ctx: &Context<'_>,
    workspace: entity::workspace::Model,
    member: entity::member::Model,
) -> Result<AuthPayload> {
    let secrets = ctx.data::<Arc<ServerSecrets>>()?;
    let config = ctx.data::<Arc<Config>>()?;
    let token = auth::token::issue(
        &secrets.jwt_secret,
        member.id,
        workspace.id,
        config.jwt_ttl_secs,
    )
    .map_err(AppError::from)?;
    Ok(AuthPayload {
        token,
        member: Member(member),
        workspace: Workspace(workspace),
    })
}

#[Object]
impl AccountMutation {
    /// Creates a workspace with you as its owner. Refused with `signup_closed` when the server
    /// runs with `PARLEY_SIGNUP=closed`.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<AuthPayload> {
        if ctx.data::<Arc<Config>>()?.signup == SignupMode::Closed {
            return Err(AppError::client(
                ErrorCode::SignupClosed,
                "sign-up is closed on this server; ask an owner to add you",
            )
            .into());
        }
        let owner = NewMember {
            name: input.name,
            email: input.email,
            password: input.password,
            role: entity::member::Role::Owner,
        };
        let db = ctx.data::<DatabaseConnection>()?;
        let (workspace, member) =
            accounts::create_workspace(db, &input.workspace_name, owner).await?;
        issue(ctx, workspace, member)
    }

    /// Signs in; `invalid_credentials` when the email or password is wrong.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload> {
        let db = ctx.data::<DatabaseConnection>()?;
        let (workspace, member) = accounts::login(db, &input.email, &input.password).await?;
        issue(ctx, workspace, member)
    }

    /// Adds a member to your workspace (owners and admins; only owners add owners).
    #[graphql(guard = "SignedIn")]
    async fn add_member(&self, ctx: &Context<'_>, input: AddMemberInput) -> Result<Member> {
        let new = NewMember {
            name: input.name,
            email: input.email,
            password: input.password,
            role: input.role.into(),
        };
        let db = ctx.data::<DatabaseConnection>()?;
        Ok(Member(
            accounts::add_member(db, principal(ctx)?, new).await?,
        ))
    }

    /// Changes a member's role (owners and admins; only owners touch owners). A workspace always
    /// keeps one owner.
    #[graphql(guard = "SignedIn")]
    async fn change_member_role(&self, ctx: &Context<'_>, id: ID, role: Role) -> Result<Member> {
        let db = ctx.data::<DatabaseConnection>()?;
        let id = parse_id(&id, "member")?;
        let member = accounts::change_role(db, principal(ctx)?, id, role.into()).await?;
        Ok(Member(member))
    }

    /// Removes a member, with their API keys (owners and admins; only owners remove owners).
    #[graphql(guard = "SignedIn")]
    async fn remove_member(&self, ctx: &Context<'_>, id: ID) -> Result<Member> {
        let db = ctx.data::<DatabaseConnection>()?;
        let id = parse_id(&id, "member")?;
        Ok(Member(
            accounts::remove_member(db, principal(ctx)?, id).await?,
        ))
    }
}
