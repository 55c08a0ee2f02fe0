//! The database: one code path for embedded SQLite and Postgres, migrations, the tenant a
//! transaction is confined to (row-level security on Postgres), and the server-wide secrets that
//! are generated on first start and kept in the `server_settings` table.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, OsRng},
};
use chrono::Utc;
use entity::server_setting;
use migration::{Migrator, MigratorTrait};
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait, sea_query::OnConflict, sqlx::sqlite::SqliteJournalMode,
    sqlx::sqlite::SqliteSynchronous,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::Config;

/// The role a superuser or `BYPASSRLS` connection switches to, so that row-level security binds it;
/// created by the row-security migration.
pub const APP_ROLE: &str = "parley_app";

/// Run on every new Postgres connection: the session sees every row (`system`) until a transaction
/// names its tenant, and a role that would ignore the policies gives way to [`APP_ROLE`] once the
/// row-security migration has secured this database (before, the connection may still have to
/// create tables). The names are repeated in the SQL, as a `const` cannot be formatted;
/// `row_security.rs` checks that the pool ends up as `APP_ROLE`.
const CONFINE_SESSION: &str = "DO $$ BEGIN
    PERFORM set_config('parley.tenant', 'system', false);
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolbypassrls))
       AND EXISTS (SELECT FROM pg_policy
                   WHERE polname = 'tenant_isolation' AND polrelid = to_regclass('workspaces')) THEN
        SET ROLE parley_app;
    END IF;
END $$";

/// Opens a pool on `config.database_url`. SQLite gets WAL, foreign keys and a busy timeout so that
/// concurrent writers queue instead of failing; Postgres connections are confined as
/// `CONFINE_SESSION` says.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    let timeout = Duration::from_millis(config.database_acquire_timeout_ms);
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(config.database_max_connections)
        .connect_timeout(timeout)
        .acquire_timeout(timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|options| {
            options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        })
        .map_sqlx_postgres_pool_opts(|pool| {
            pool.after_connect(|connection, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(connection, CONFINE_SESSION)
                        .await
                        .map(|_| ())
                })
            })
        });
    Database::connect(options).await
}

/// [`connect`] to a database that [`migrate`] has brought up to date. On Postgres the pool is opened
/// again afterwards: a connection opened before the migration secured the database would keep
/// bypassing row security.
pub async fn connect_migrated(config: &Config) -> Result<DatabaseConnection, DbErr> {
    let db = connect(config).await?;
    migrate(&db).await?;
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(db);
    }
    db.close().await?;
    connect(config).await
}

/// How many statements a connection (and every clone of it) has run: `db_statements_total` in
/// `/metrics`, where a jump per request gives away an N+1 query, and what the tests read to check
/// that a page costs the same number of statements whatever its size.
#[derive(Clone, Debug, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    /// Counts `db`'s statements from now on; set it before the connection is cloned.
    pub fn install(db: &mut DatabaseConnection) -> Self {
        let counter = Self::default();
        let count = counter.0.clone();
        db.set_metric_callback(move |_| {
            count.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("db_statements_total").increment(1);
        });
        counter
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Applies every pending migration; a no-op on an up-to-date database. On Postgres they run in one
/// transaction, one process at a time, as the connecting user rather than [`APP_ROLE`] (which may
/// not create tables).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let txn = db.begin().await?;
    txn.execute_unprepared(
        "SELECT pg_advisory_xact_lock(hashtext('parley.migrate')); SET LOCAL ROLE NONE",
    )
    .await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// Starts a transaction that sees and may write only `workspace_id`'s rows: on Postgres the
/// row-level security policies hold it to that workspace even where a query forgets its filter. On
/// SQLite, which has no row security, it is a plain transaction and the filters are all there is.
pub async fn begin_tenant(
    db: &DatabaseConnection,
    workspace_id: Uuid,
) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('parley.tenant', $1, true)",
            [workspace_id.to_string().into()],
        ))
        .await?;
    }
    Ok(txn)
}

/// Starts a transaction that will write. On SQLite it takes the write lock at BEGIN (IMMEDIATE):
/// a deferred transaction that reads first and writes later can fail with "database is locked"
/// instead of waiting its turn.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// A write transaction whose commit does not wait for the disk on Postgres
/// (`synchronous_commit = off` for it alone): only for work that is done again if a database crash
/// loses it, such as applying a webhook delivery that is stored durably and stays unprocessed
/// until this commit marks it. Locks it takes are released without waiting for a flush.
pub async fn begin_redoable(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = begin_write(db).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL synchronous_commit = off")
            .await?;
    }
    Ok(txn)
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

impl ServerSecrets {
    fn sealing_cipher(&self) -> XChaCha20Poly1305 {
        // The configured key may be any string of 32+ bytes; hashing it gives a uniform 256-bit key.
        let key = Sha256::digest(self.secret_key.expose_secret().as_bytes());
        XChaCha20Poly1305::new(&key)
    }

    /// Encrypts `plaintext` for storage: a random 24-byte nonce followed by the sealed bytes.
    pub fn seal(&self, plaintext: &str) -> Result<Vec<u8>, anyhow::Error> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .sealing_cipher()
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(stored)
    }

    /// Decrypts what [`seal`](Self::seal) produced; fails if it was tampered with or sealed under
    /// another key.
    pub fn open(&self, stored: &[u8]) -> Result<SecretString, anyhow::Error> {
        const NONCE_LEN: usize = 24;
        if stored.len() < NONCE_LEN {
            anyhow::bail!("sealed value is truncated");
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let nonce = XNonce::from(<[u8; NONCE_LEN]>::try_from(nonce)?);
        let plaintext = self
            .sealing_cipher()
            .decrypt(&nonce, sealed)
            .map_err(|_| anyhow::anyhow!("sealed value cannot be opened with this secret key"))?;
        Ok(SecretString::from(String::from_utf8(plaintext)?))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(key: &str) -> ServerSecrets {
        ServerSecrets {
            jwt_secret: SecretString::from("j".repeat(32)),
            secret_key: SecretString::from(key.to_owned()),
        }
    }

    #[test]
    fn sealed_tokens_open_only_with_their_key() {
        let mine = secrets(&"k".repeat(32));
        let sealed = mine.seal("EAAG-meta-token").unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("EAAG"));
        assert_eq!(
            mine.open(&sealed).unwrap().expose_secret(),
            "EAAG-meta-token"
        );
        assert!(secrets(&"x".repeat(32)).open(&sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(mine.open(&tampered).is_err());
        assert!(mine.open(&sealed[..10]).is_err());
    }
}
