//! The `parley` command: serve (default), migrate, schema.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use parley::{accounts, app::Application, config::Config, db, graphql, rest, telemetry};

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
    Serve {
        /// Create (once) a demo workspace with a sandbox sender, and print how to sign in.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a workspace and owner (or reuse them when the password matches) and print
    /// `{workspaceId, memberId, token, apiKey, senderId}` as JSON.
    Bootstrap {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        /// Also connect a sandbox sender with this number (E.164).
        #[arg(long, value_name = "E164")]
        sandbox_sender: Option<String>,
    },
    /// Create a workspace like `bootstrap` (with a sandbox sender) and fill it with synthetic
    /// contacts, conversations and messages, for measuring the read side at scale; prints the
    /// bootstrap JSON with what was seeded.
    Seed {
        #[arg(long, default_value = "Scale")]
        workspace: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value_t = 100_000)]
        contacts: u64,
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
    },
    /// Print the OpenAPI document of the REST API.
    Openapi {
        /// Instead of printing, fail when FILE differs from the document.
        #[arg(long)]
        check: bool,
        #[arg(long, value_name = "FILE", default_value = "openapi.json")]
        file: PathBuf,
    },
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

/// The configuration, a migrated database and the server's secrets: what the commands that write
/// accounts need.
async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::Serve { demo } => {
            let config = Config::load(&cli.config)?;
            let app = Application::build(config).await?;
            tracing::info!(
                "Parley listening on http://{} (GraphiQL at /graphql, database: {})",
                app.addr(),
                db::backend_name(&app.state().services.db)
            );
            if demo {
                let state = app.state();
                let demo = accounts::prepare_demo(&state.services.db, &state.services.secrets)
                    .await
                    .map_err(|error| anyhow::anyhow!("cannot prepare the demo: {error:?}"))?;
                print_demo(app.addr(), &demo);
            }
            app.run_until_stopped(shutdown_signal()).await?;
            tracing::info!("stopped");
        }
        Command::Migrate => {
            let config = Config::load(&cli.config)?;
            let db = db::connect(&config).await?;
            db::migrate(&db).await?;
            println!("migrations applied");
        }
        Command::Bootstrap {
            workspace,
            email,
            password,
            sandbox_sender,
        } => {
            let request = accounts::BootstrapRequest {
                workspace: &workspace,
                email: &email,
                password: &password,
                sandbox_sender: sandbox_sender.as_deref(),
                api_key_name: "bootstrap",
            };
            match bootstrap(&cli.config, request).await? {
                (Ok(created), _) => println!("{}", serde_json::to_string(&created)?),
                (Err(error), _) => {
                    eprintln!("error: {error}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Seed {
            workspace,
            email,
            password,
            contacts,
            messages,
        } => {
            let request = accounts::BootstrapRequest {
                workspace: &workspace,
                email: &email,
                password: &password,
                sandbox_sender: Some("+15550100000"),
                api_key_name: "seed",
            };
            let (created, db) = bootstrap(&cli.config, request).await?;
            let created = created.map_err(|error| anyhow::anyhow!(error))?;
            let sender_id = created.sender_id.context("bootstrap made no sender")?;
            let started = std::time::Instant::now();
            let seeded =
                parley::seed::seed(&db, created.workspace_id, sender_id, contacts, messages)
                    .await?;
            tracing::info!(elapsed = ?started.elapsed(), "seeded");
            println!(
                "{}",
                serde_json::json!({"workspace": created, "seeded": seeded})
            );
        }
        Command::Schema { check, file } => return print_or_check(&graphql::sdl(), check, &file),
        Command::Openapi { check, file } => {
            return print_or_check(&rest::openapi_text(), check, &file);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the configured database and bootstraps a workspace in it: the outcome (a refusal as
/// "message (code)") and the database, for more work.
async fn bootstrap(
    config: &std::path::Path,
    request: accounts::BootstrapRequest<'_>,
) -> anyhow::Result<(
    Result<accounts::Bootstrapped, String>,
    sea_orm::DatabaseConnection,
)> {
    let config = Config::load(config)?;
    let db = db::connect_migrated(&config).await?;
    let secrets = db::ServerSecrets::load(&db, &config).await?;
    let created = accounts::bootstrap(&db, &secrets, config.jwt_ttl_secs, request)
        .await
        .map_err(|error| format!("{} ({})", error.public_message(), error.code()));
    Ok((created, db))
}

/// Prints a generated artefact, or with `check` fails when the checked-in `file` differs.
fn print_or_check(
    generated: &str,
    check: bool,
    file: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    if !check {
        print!("{generated}");
        return Ok(ExitCode::SUCCESS);
    }
    let existing =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    if existing != generated {
        eprintln!(
            "{} is stale: regenerate it with `parley` (see --help)",
            file.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    println!("{} is up to date", file.display());
    Ok(ExitCode::SUCCESS)
}

/// Printed on standard output, never logged: it holds a password and an API key on purpose.
fn print_demo(addr: std::net::SocketAddr, demo: &accounts::DemoCredentials) {
    let api_key = &demo.api_key;
    let message = r#"{"to": "+14155550123", "type": "text", "text": "Hello from Parley"}"#;
    println!(
        "\nParley demo workspace ready (sandbox sender +15550000001: no Meta account needed)\n\
         \n  GraphiQL   http://{addr}/graphql\
         \n  login      {} / {}\
         \n  API key    {api_key}\
         \n\n  send a message (the sandbox accepts it, then reports sent, delivered, read):\
         \n  curl -s http://{addr}/api/v1/messages -H 'Authorization: Bearer {api_key}' \\\n    \
         -H 'Content-Type: application/json' -d '{message}'\n",
        demo.email, demo.password
    );
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
