//! Dataloaders for the relations a list can ask for (a page of conversations with their contacts
//! and last messages, a page of messages with their send attempts): every key asked for while a
//! response is resolved is answered by one `WHERE id IN (…)` per relation, so a page costs the
//! same number of statements whatever its size.
//!
//! Keys carry the workspace of the row that points at the related one, and a row answers only a
//! key of its own workspace: a loader cannot be a way across tenants, whoever calls it. The
//! loaders live in the schema's data (shared by queries and subscriptions) without a cache, so
//! nothing outlives the batch that read it.

use std::{collections::HashMap, marker::PhantomData};

use async_graphql::{Context, dataloader::DataLoader, dataloader::Loader};
use entity::{
    WorkspaceScoped, auto_reply_setting, contact, conversation, member, message, send_attempt,
    sender,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::error::AppError;

/// A row asked for on behalf of workspace `workspace_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub workspace_id: Uuid,
    pub id: Uuid,
}

/// A table whose rows a loader fetches by id.
pub trait Row: WorkspaceScoped {
    fn id_column() -> Self::Column;
    fn key(model: &Self::Model) -> Key;
}

macro_rules! rows {
    ($($module:ident),* $(,)?) => {$(
        impl Row for $module::Entity {
            fn id_column() -> Self::Column {
                $module::Column::Id
            }

            fn key(model: &$module::Model) -> Key {
                Key { workspace_id: model.workspace_id, id: model.id }
            }
        }
    )*};
}

rows!(contact, conversation, member, message, sender);

/// A sender's auto-reply settings, keyed by the sender's id.
impl Row for auto_reply_setting::Entity {
    fn id_column() -> Self::Column {
        auto_reply_setting::Column::SenderId
    }

    fn key(model: &auto_reply_setting::Model) -> Key {
        Key {
            workspace_id: model.workspace_id,
            id: model.sender_id,
        }
    }
}

/// Rows of `E` by id.
pub struct ById<E> {
    db: DatabaseConnection,
    entity: PhantomData<E>,
}

impl<E: Row> Loader<Key> for ById<E>
where
    E::Model: Clone + Send + Sync,
{
    type Value = E::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Key]) -> Result<HashMap<Key, E::Model>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|key| key.id).collect();
        let rows = E::find()
            .filter(E::id_column().is_in(ids))
            .all(&self.db)
            .await
            .map_err(AppError::from)?;
        Ok(rows
            .into_iter()
            .map(|row| (E::key(&row), row))
            .filter(|(key, _)| keys.contains(key))
            .collect())
    }
}

/// A message's send attempt (outbound messages have one), by the message's id.
pub struct SendAttemptByMessage {
    db: DatabaseConnection,
}

impl Loader<Key> for SendAttemptByMessage {
    type Value = send_attempt::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Key]) -> Result<HashMap<Key, send_attempt::Model>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|key| key.id).collect();
        let rows = send_attempt::Entity::find()
            .filter(send_attempt::Column::MessageId.is_in(ids))
            .all(&self.db)
            .await
            .map_err(AppError::from)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let key = Key {
                    workspace_id: row.workspace_id,
                    id: row.message_id,
                };
                (key, row)
            })
            .filter(|(key, _)| keys.contains(key))
            .collect())
    }
}

/// Adds every loader to the schema being built.
pub fn register<Q, M, S>(
    builder: async_graphql::SchemaBuilder<Q, M, S>,
    db: &DatabaseConnection,
) -> async_graphql::SchemaBuilder<Q, M, S> {
    fn by_id<E: Row>(db: &DatabaseConnection) -> DataLoader<ById<E>>
    where
        E::Model: Clone + Send + Sync,
    {
        let loader = ById {
            db: db.clone(),
            entity: PhantomData,
        };
        DataLoader::new(loader, tokio::spawn)
    }
    builder
        .data(by_id::<contact::Entity>(db))
        .data(by_id::<conversation::Entity>(db))
        .data(by_id::<member::Entity>(db))
        .data(by_id::<message::Entity>(db))
        .data(by_id::<sender::Entity>(db))
        .data(by_id::<auto_reply_setting::Entity>(db))
        .data(DataLoader::new(
            SendAttemptByMessage { db: db.clone() },
            tokio::spawn,
        ))
}

/// The row `id` of `E`, pointed at by a row of `workspace_id`; `None` when there is none.
pub async fn find<E: Row>(
    ctx: &Context<'_>,
    workspace_id: Uuid,
    id: Uuid,
) -> async_graphql::Result<Option<E::Model>>
where
    E::Model: Clone + Send + Sync,
{
    let loader = ctx.data::<DataLoader<ById<E>>>()?;
    loader.load_one(Key { workspace_id, id }).await
}

/// Like [`find`], for a reference the schema guarantees (a foreign key): a missing row is a bug.
pub async fn get<E: Row>(
    ctx: &Context<'_>,
    workspace_id: Uuid,
    id: Uuid,
) -> async_graphql::Result<E::Model>
where
    E::Model: Clone + Send + Sync,
{
    find::<E>(ctx, workspace_id, id).await?.ok_or_else(|| {
        AppError::from(anyhow::anyhow!(
            "{} row {id} is missing though a row points at it",
            E::default().table_name()
        ))
        .into()
    })
}

/// The send attempt of message `message_id`, if it has one.
pub async fn send_attempt_of(
    ctx: &Context<'_>,
    workspace_id: Uuid,
    message_id: Uuid,
) -> async_graphql::Result<Option<send_attempt::Model>> {
    let loader = ctx.data::<DataLoader<SendAttemptByMessage>>()?;
    loader
        .load_one(Key {
            workspace_id,
            id: message_id,
        })
        .await
}
