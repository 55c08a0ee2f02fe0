//! The database: one code path for embedded SQLite and Postgres, migrations, and the server-wide
//! secrets that are generated on first start and kept in the `server_settings` table.

use std::time::Duration;

use chrono::Utc;
use entity::server_setting;
use migration::{Migrator, MigratorTrait};
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, sea_query::OnConflict, sqlx::sqlite::SqliteJournalMode,
    sqlx::sqlite::SqliteSynchronous,
};
use secrecy::SecretString;

use crate::config::Config;

/// Opens a pool on `config.database_url`. SQLite gets WAL, foreign keys and a busy timeout so that
/// concurrent writers queue instead of failing.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(config.database_max_connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|options| {
            options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    Database::connect(options).await
}

/// Applies every pending migration; a no-op on an up-to-date database.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Whether the database answers a trivial query.
pub async fn is_reachable(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}

pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        _ => "other",
    }
}

/// The server's secrets: from the configuration when given, else generated once and shared through
/// the database by every process that uses it.
#[derive(Clone)]
pub struct ServerSecrets {
    pub jwt_secret: SecretString,
    pub secret_key: SecretString,
}

impl std::fmt::Debug for ServerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecrets([REDACTED])")
    }
}

impl ServerSecrets {
    pub async fn load(db: &DatabaseConnection, config: &Config) -> Result<Self, DbErr> {
        Ok(Self {
            jwt_secret: configured_or_stored(db, &config.jwt_secret, "jwt_secret").await?,
            secret_key: configured_or_stored(db, &config.secret_key, "secret_key").await?,
        })
    }
}

async fn configured_or_stored(
    db: &DatabaseConnection,
    configured: &Option<SecretString>,
    key: &str,
) -> Result<SecretString, DbErr> {
    if let Some(secret) = configured {
        return Ok(secret.clone());
    }
    // Several processes may start at once: the first insert wins and everyone reads it back.
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    server_setting::Entity::insert(server_setting::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(hex::encode(bytes)),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(server_setting::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let stored = server_setting::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("server setting {key}")))?;
    Ok(SecretString::from(stored.value))
}
