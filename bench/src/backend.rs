//! Where the measured servers keep their data: fresh SQLite files in a temporary directory, or
//! fresh Postgres databases (`parley_bench_<uuid>`) that the program creates and drops.

use std::{fmt, path::PathBuf, time::Duration};

use anyhow::Context;
use sea_orm::{ConnectOptions, ConnectionTrait, Database};

/// A database engine Parley runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "Postgres",
        })
    }
}

/// A place to make fresh databases in; [`Site::clean_up`] removes everything it made.
pub struct Site {
    pub backend: Backend,
    place: Place,
    made: Vec<String>,
}

enum Place {
    /// A temporary directory holding one SQLite file per database.
    Directory(PathBuf),
    /// A Postgres server, by a URL whose database may be connected to for CREATE DATABASE.
    Server(String),
}

impl Site {
    /// A new temporary directory for SQLite files.
    pub fn sqlite() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("parley-bench-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self {
            backend: Backend::Sqlite,
            place: Place::Directory(dir),
            made: Vec::new(),
        })
    }

    /// The Postgres server at `admin_url`, if it answers within a few seconds.
    pub async fn postgres(admin_url: &str) -> anyhow::Result<Self> {
        let mut options = ConnectOptions::new(admin_url.to_owned());
        options
            .connect_timeout(Duration::from_secs(3))
            .acquire_timeout(Duration::from_secs(3))
            .max_connections(1)
            .sqlx_logging(false);
        let admin = Database::connect(options).await?;
        admin.execute_unprepared("SELECT 1").await?;
        admin.close().await?;
        Ok(Self {
            backend: Backend::Postgres,
            place: Place::Server(admin_url.to_owned()),
            made: Vec::new(),
        })
    }

    /// The URL of a new, empty database.
    pub async fn fresh_database(&mut self) -> anyhow::Result<String> {
        let name = format!("parley_bench_{}", uuid::Uuid::now_v7().simple());
        let url = match &self.place {
            Place::Directory(dir) => format!("sqlite://{}/{name}.db?mode=rwc", dir.display()),
            Place::Server(admin_url) => {
                let admin = Database::connect(admin_url.as_str()).await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .with_context(|| format!("cannot create database {name}"))?;
                admin.close().await?;
                let mut url = reqwest::Url::parse(admin_url).context("--postgres-url")?;
                url.set_path(&name);
                url.to_string()
            }
        };
        self.made.push(name);
        Ok(url)
    }

    /// Removes every database this site made; failures are reported, not fatal, so that a
    /// finished measurement is never lost to cleanup.
    pub async fn clean_up(self) {
        match self.place {
            Place::Directory(dir) => {
                if let Err(error) = std::fs::remove_dir_all(&dir) {
                    eprintln!("warning: cannot remove {}: {error}", dir.display());
                }
            }
            Place::Server(admin_url) => {
                let admin = match Database::connect(admin_url.as_str()).await {
                    Ok(admin) => admin,
                    Err(error) => {
                        eprintln!("warning: cannot drop {:?}: {error}", self.made);
                        return;
                    }
                };
                for name in &self.made {
                    // FORCE: a server that was stopped on an error may still hold connections.
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(error) = admin.execute_unprepared(&drop).await {
                        eprintln!("warning: cannot drop database {name}: {error}");
                    }
                }
                admin.close().await.ok();
            }
        }
    }
}

/// Where a scenario measures: SQLite, then the Postgres server at `postgres_url` when it answers;
/// when it does not, the report says so.
pub async fn sites(
    scenario: &str,
    postgres_url: &str,
    report: &mut crate::report::Report,
) -> anyhow::Result<Vec<Site>> {
    let mut sites = vec![Site::sqlite()?];
    match Site::postgres(postgres_url).await {
        Ok(site) => sites.push(site),
        Err(error) => {
            let note = format!(
                "{scenario}: Postgres skipped: {} did not answer ({error})",
                crate::mask_password(postgres_url)
            );
            eprintln!("{note}");
            report.notes.push(note);
        }
    }
    Ok(sites)
}
