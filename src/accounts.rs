//! Workspaces, members and API keys: sign-up, login, member management, key creation, and the
//! `bootstrap` / `serve --demo` provisioning built from them.

use chrono::Utc;
use entity::{
    WorkspaceScoped, api_key, member, member::Role, new_id, sender, sender::SenderKind, workspace,
};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, SqlErr, TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    auth::{self, Scope},
    db::ServerSecrets,
    domain::{Name, Phone},
    error::{AppError, ErrorCode},
    senders::{self, NewSender},
};

const MAX_EMAIL_LEN: usize = 254;

/// An email address, lower-cased. Only its shape is checked: delivery is not Parley's business.
pub fn parse_email(value: &str) -> Result<String, AppError> {
    let email = value.trim().to_lowercase();
    let well_formed = email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                && !domain.starts_with('.') && !domain.ends_with('.'));
    if !well_formed {
        return Err(AppError::invalid("email must be a valid email address"));
    }
    Ok(email)
}

fn check_password(password: &str) -> Result<(), AppError> {
    let length = password.chars().count();
    if !(auth::password::MIN_LEN..=auth::password::MAX_LEN).contains(&length) {
        return Err(AppError::invalid(format!(
            "password must be {} to {} characters",
            auth::password::MIN_LEN,
            auth::password::MAX_LEN
        )));
    }
    Ok(())
}

fn email_taken(error: sea_orm::DbErr) -> AppError {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            AppError::invalid("a member with this email already exists")
        }
        _ => error.into(),
    }
}

pub struct NewMember {
    pub name: String,
    pub email: String,
    pub password: String,
    pub role: Role,
}

/// Creates a workspace and its first owner, in one transaction.
pub async fn create_workspace(
    db: &DatabaseConnection,
    workspace_name: &str,
    owner: NewMember,
) -> Result<(workspace::Model, member::Model), AppError> {
    let workspace_name = String::from(Name::parse("workspaceName", workspace_name)?);
    let (name, email) = (
        String::from(Name::parse("name", &owner.name)?),
        parse_email(&owner.email)?,
    );
    check_password(&owner.password)?;
    let password_hash = auth::password::hash(owner.password).await?;
    let now = Utc::now();
    let txn = db.begin().await?;
    let workspace = workspace::ActiveModel {
        id: Set(new_id()),
        name: Set(workspace_name),
        event_sequence: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let owner = MemberRow {
        name,
        email,
        password_hash,
        role: Role::Owner,
    };
    let member = insert_member(&txn, workspace.id, owner).await?;
    txn.commit().await?;
    Ok((workspace, member))
}

/// Adds a member to `workspace_id`. Only an owner may create another owner.
pub async fn add_member(
    db: &DatabaseConnection,
    actor: &auth::Principal,
    new: NewMember,
) -> Result<member::Model, AppError> {
    actor.require_session()?;
    actor.require_admin()?;
    if new.role == Role::Owner && actor.role != Role::Owner {
        return Err(AppError::client(
            ErrorCode::Forbidden,
            "only owners can add owners",
        ));
    }
    let (name, email) = (
        String::from(Name::parse("name", &new.name)?),
        parse_email(&new.email)?,
    );
    check_password(&new.password)?;
    let row = MemberRow {
        name,
        email,
        password_hash: auth::password::hash(new.password).await?,
        role: new.role,
    };
    insert_member(db, actor.workspace_id, row).await
}

/// A member's validated fields, password already hashed.
struct MemberRow {
    name: String,
    email: String,
    password_hash: String,
    role: Role,
}

async fn insert_member(
    db: &impl ConnectionTrait,
    workspace_id: Uuid,
    row: MemberRow,
) -> Result<member::Model, AppError> {
    let now = Utc::now();
    member::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(workspace_id),
        email: Set(row.email),
        name: Set(row.name),
        password_hash: Set(row.password_hash),
        role: Set(row.role),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(email_taken)
}

/// A member of the actor's workspace that the actor may manage.
async fn managed_member(
    db: &DatabaseConnection,
    actor: &auth::Principal,
    member_id: Uuid,
) -> Result<member::Model, AppError> {
    actor.require_session()?;
    actor.require_admin()?;
    let member = member::Entity::find_by_id_in_workspace(actor.workspace_id, member_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    if member.role == Role::Owner && actor.role != Role::Owner {
        return Err(AppError::client(
            ErrorCode::Forbidden,
            "only owners can change or remove owners",
        ));
    }
    Ok(member)
}

/// Refuses a change that would leave the workspace without an owner.
async fn keep_an_owner(db: &DatabaseConnection, member: &member::Model) -> Result<(), AppError> {
    if member.role != Role::Owner {
        return Ok(());
    }
    let owners = member::Entity::find_in_workspace(member.workspace_id)
        .filter(member::Column::Role.eq(Role::Owner))
        .all(db)
        .await?;
    if owners.len() <= 1 {
        return Err(AppError::invalid(
            "a workspace must keep at least one owner",
        ));
    }
    Ok(())
}

pub async fn change_role(
    db: &DatabaseConnection,
    actor: &auth::Principal,
    member_id: Uuid,
    role: Role,
) -> Result<member::Model, AppError> {
    let member = managed_member(db, actor, member_id).await?;
    if role == Role::Owner && actor.role != Role::Owner {
        return Err(AppError::client(
            ErrorCode::Forbidden,
            "only owners can make owners",
        ));
    }
    if role != Role::Owner {
        keep_an_owner(db, &member).await?;
    }
    let mut active: member::ActiveModel = member.into();
    active.role = Set(role);
    active.updated_at = Set(Utc::now());
    Ok(active.update(db).await?)
}

pub async fn remove_member(
    db: &DatabaseConnection,
    actor: &auth::Principal,
    member_id: Uuid,
) -> Result<member::Model, AppError> {
    let member = managed_member(db, actor, member_id).await?;
    keep_an_owner(db, &member).await?;
    member::Entity::delete_by_id(member.id).exec(db).await?;
    Ok(member)
}

/// The member `email` names, when `password` is theirs.
pub async fn login(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
) -> Result<(workspace::Model, member::Model), AppError> {
    let denied = || AppError::client(ErrorCode::InvalidCredentials, "wrong email or password");
    let found = match parse_email(email) {
        Ok(email) => {
            member::Entity::find()
                .filter(member::Column::Email.eq(email))
                .find_also_related(workspace::Entity)
                .one(db)
                .await?
        }
        Err(_) => None,
    };
    let stored_hash = found
        .as_ref()
        .map(|(member, _)| member.password_hash.clone());
    let password = password.chars().take(auth::password::MAX_LEN).collect();
    if !auth::password::verify(password, stored_hash).await? {
        return Err(denied());
    }
    match found {
        Some((member, Some(workspace))) => Ok((workspace, member)),
        _ => Err(denied()),
    }
}

/// A new key for `member_id` and the secret, which is never shown again.
pub async fn create_api_key(
    db: &DatabaseConnection,
    actor: &auth::Principal,
    name: &str,
    scopes: &[Scope],
    rate_limit_per_minute: Option<i32>,
) -> Result<(api_key::Model, String), AppError> {
    actor.require_session()?;
    let name = String::from(Name::parse("name", name)?);
    if scopes.is_empty() {
        return Err(AppError::invalid("an API key needs at least one scope"));
    }
    if rate_limit_per_minute.is_some_and(|limit| !(1..=MAX_RATE_LIMIT).contains(&limit)) {
        return Err(AppError::invalid(format!(
            "rateLimitPerMinute must be between 1 and {MAX_RATE_LIMIT}"
        )));
    }
    let key = NewKey {
        workspace_id: actor.workspace_id,
        member_id: actor.member_id,
        name,
        scopes,
        rate_limit_per_minute,
    };
    insert_api_key(db, key).await
}

/// Highest per-key rate limit a client may ask for.
const MAX_RATE_LIMIT: i32 = 100_000;

struct NewKey<'a> {
    workspace_id: Uuid,
    member_id: Uuid,
    name: String,
    scopes: &'a [Scope],
    rate_limit_per_minute: Option<i32>,
}

async fn insert_api_key(
    db: &DatabaseConnection,
    new: NewKey<'_>,
) -> Result<(api_key::Model, String), AppError> {
    let secret = auth::api_key::generate();
    let key = api_key::ActiveModel {
        id: Set(new_id()),
        workspace_id: Set(new.workspace_id),
        member_id: Set(new.member_id),
        name: Set(new.name),
        prefix: Set(secret.prefix),
        key_hash: Set(secret.hash),
        scopes: Set(auth::scope::to_json(new.scopes)),
        rate_limit_per_minute: Set(new.rate_limit_per_minute),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((key, secret.secret))
}

/// The keys `actor` may see: every key of the workspace for owners and admins, their own for
/// members.
pub fn visible_api_keys(actor: &auth::Principal) -> sea_orm::Select<api_key::Entity> {
    let keys = api_key::Entity::find_in_workspace(actor.workspace_id);
    if actor.is_admin() {
        keys
    } else {
        keys.filter(api_key::Column::MemberId.eq(actor.member_id))
    }
}

/// Revokes a key `actor` may see; revoking twice keeps the first time.
pub async fn revoke_api_key(
    db: &DatabaseConnection,
    actor: &auth::Principal,
    key_id: Uuid,
) -> Result<api_key::Model, AppError> {
    actor.require_session()?;
    let key = visible_api_keys(actor)
        .filter(api_key::Column::Id.eq(key_id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("API key"))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut active: api_key::ActiveModel = key.into();
    active.revoked_at = Set(Some(Utc::now()));
    Ok(active.update(db).await?)
}

/// What `parley bootstrap` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrapped {
    pub workspace_id: Uuid,
    pub member_id: Uuid,
    pub token: String,
    pub api_key: String,
    pub sender_id: Option<Uuid>,
}

pub struct BootstrapRequest<'a> {
    pub workspace: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub sandbox_sender: Option<&'a str>,
    pub api_key_name: &'a str,
}

/// Creates (or, when the email exists and the password matches, reuses) a workspace and owner,
/// then issues a fresh token and an all-scopes API key, and ensures the sandbox sender.
pub async fn bootstrap(
    db: &DatabaseConnection,
    secrets: &ServerSecrets,
    jwt_ttl_secs: u64,
    request: BootstrapRequest<'_>,
) -> Result<Bootstrapped, AppError> {
    let sandbox_phone = request
        .sandbox_sender
        .map(Phone::parse)
        .transpose()
        .map_err(|error| AppError::client(ErrorCode::InvalidPhoneNumber, error.to_string()))?;
    let existing = member::Entity::find()
        .filter(member::Column::Email.eq(parse_email(request.email)?))
        .one(db)
        .await?;
    let (workspace_id, member) = match existing {
        Some(_) => {
            let (workspace, member) = login(db, request.email, request.password).await?;
            (workspace.id, member)
        }
        None => {
            let owner = NewMember {
                name: "Owner".into(),
                email: request.email.into(),
                password: request.password.into(),
                role: Role::Owner,
            };
            let (workspace, member) = create_workspace(db, request.workspace, owner).await?;
            (workspace.id, member)
        }
    };
    let token = auth::token::issue(&secrets.jwt_secret, member.id, workspace_id, jwt_ttl_secs)?;
    let key = NewKey {
        workspace_id,
        member_id: member.id,
        name: String::from(Name::parse("name", request.api_key_name)?),
        scopes: &Scope::ALL,
        rate_limit_per_minute: None,
    };
    let (_, api_key) = insert_api_key(db, key).await?;
    let sender_id = match sandbox_phone {
        Some(phone) => Some(
            ensure_sandbox_sender(db, secrets, &member, &phone)
                .await?
                .id,
        ),
        None => None,
    };
    Ok(Bootstrapped {
        workspace_id,
        member_id: member.id,
        token,
        api_key,
        sender_id,
    })
}

async fn ensure_sandbox_sender(
    db: &DatabaseConnection,
    secrets: &ServerSecrets,
    owner: &member::Model,
    phone: &Phone,
) -> Result<sender::Model, AppError> {
    let existing = sender::Entity::find_in_workspace(owner.workspace_id)
        .filter(sender::Column::PhoneNumber.eq(phone.digits()))
        .one(db)
        .await?;
    if let Some(sender) = existing {
        return Ok(sender);
    }
    senders::connect(
        db,
        secrets,
        owner.workspace_id,
        owner.id,
        NewSender {
            kind: SenderKind::Sandbox,
            name: "Sandbox".into(),
            phone_number: phone.e164(),
            phone_number_id: None,
            waba_id: None,
            access_token: None,
        },
    )
    .await
}

/// The demo workspace's sign-in, printed by `serve --demo`.
pub struct DemoCredentials {
    pub email: String,
    pub password: String,
    pub api_key: String,
}

pub const DEMO_EMAIL: &str = "demo@parley.local";
const DEMO_SANDBOX_NUMBER: &str = "+15550000001";

/// Creates the demo workspace with a sandbox sender on first use; on every start, gives it a
/// fresh password and a fresh API key (revoking the previous demo keys), since secrets that were
/// printed before cannot be shown again.
pub async fn prepare_demo(
    db: &DatabaseConnection,
    secrets: &ServerSecrets,
) -> Result<DemoCredentials, AppError> {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    let password = hex::encode(bytes);
    let existing = member::Entity::find()
        .filter(member::Column::Email.eq(DEMO_EMAIL))
        .one(db)
        .await?;
    let owner = match existing {
        Some(owner) => {
            let mut active: member::ActiveModel = owner.into();
            active.password_hash = Set(auth::password::hash(password.clone()).await?);
            active.updated_at = Set(Utc::now());
            active.update(db).await?
        }
        None => {
            let owner = NewMember {
                name: "Demo owner".into(),
                email: DEMO_EMAIL.into(),
                password: password.clone(),
                role: Role::Owner,
            };
            create_workspace(db, "Demo workspace", owner).await?.1
        }
    };
    let phone = Phone::parse(DEMO_SANDBOX_NUMBER).map_err(|e| anyhow::anyhow!("{e}"))?;
    ensure_sandbox_sender(db, secrets, &owner, &phone).await?;
    api_key::Entity::update_many()
        .col_expr(
            api_key::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(api_key::Column::MemberId.eq(owner.id))
        .filter(api_key::Column::Name.eq("demo"))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    let key = NewKey {
        workspace_id: owner.workspace_id,
        member_id: owner.id,
        name: "demo".into(),
        scopes: &Scope::ALL,
        rate_limit_per_minute: None,
    };
    let (_, api_key) = insert_api_key(db, key).await?;
    Ok(DemoCredentials {
        email: DEMO_EMAIL.into(),
        password,
        api_key,
    })
}
