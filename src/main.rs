//! The `parley` command: serve (default), migrate, schema.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use parley::{app::Application, config::Config, db, graphql, telemetry};

#[derive(Parser)]
#[command(
    name = "parley",
    version,
    about = "Self-hosted WhatsApp messaging backend for CRMs"
)]
struct Cli {
    /// Optional configuration file; `PARLEY_*` environment variables override it.
    #[arg(long, global = true, default_value = "parley.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default command).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema {
        /// Instead of printing, fail when FILE differs from the schema.
        #[arg(long)]
        check: bool,
        #[arg(long, value_name = "FILE", default_value = "schema.graphql")]
        file: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init_tracing();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let config = Config::load(&cli.config)?;
            let app = Application::build(config).await?;
            tracing::info!(
                "Parley listening on http://{} (GraphiQL at /graphql, database: {})",
                app.addr(),
                db::backend_name(&app.state().db)
            );
            app.run_until_stopped(shutdown_signal()).await?;
            tracing::info!("stopped");
        }
        Command::Migrate => {
            let config = Config::load(&cli.config)?;
            let db = db::connect(&config).await?;
            db::migrate(&db).await?;
            println!("migrations applied");
        }
        Command::Schema { check, file } => {
            let sdl = graphql::sdl();
            if !check {
                print!("{sdl}");
            } else {
                let existing = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                if existing != sdl {
                    eprintln!(
                        "{} is stale: run `parley schema > {}`",
                        file.display(),
                        file.display()
                    );
                    return Ok(ExitCode::FAILURE);
                }
                println!("{} is up to date", file.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
